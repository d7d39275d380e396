from django import forms


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)

    def clean_name(self):
        name = self.cleaned_data["name"]
        if not name:
            raise forms.ValidationError("Give the workspace a name.")
        return name
