// The journey editor: names edited in place (Enter saves, Esc cancels, leaving a changed field
// saves it) and stages and steps moved by drag and drop. The arrow buttons stay the keyboard path;
// without JavaScript every field has its Save button.
(function () {
  "use strict";

  function post(url, values) {
    window.htmx.ajax("POST", url, {
      source: document.getElementById("journey-structure"),
      target: "#journey-structure",
      swap: "outerHTML",
      values: values,
    });
  }

  function initSortables(root) {
    if (!window.Sortable || !window.htmx) return;
    root.querySelectorAll("[data-sortable-stages]").forEach(function (list) {
      window.Sortable.create(list, {
        handle: ".stage-handle",
        draggable: "li.stage:not(.add-stage-lane)",
        animation: 120,
        onEnd: function (event) {
          if (event.oldIndex !== event.newIndex) {
            post(event.item.dataset.placeUrl, { index: event.newIndex });
          }
        },
      });
    });
    root.querySelectorAll("[data-sortable-steps]").forEach(function (list) {
      window.Sortable.create(list, {
        group: "steps",
        handle: ".step-handle",
        draggable: "li.step",
        animation: 120,
        onEnd: function (event) {
          if (event.from === event.to && event.oldIndex === event.newIndex) return;
          var index = Array.prototype.indexOf.call(event.to.querySelectorAll("li.step"), event.item);
          post(event.item.dataset.placeUrl, { stage: event.to.dataset.stage, index: index });
        },
      });
    });
  }

  function initEditing(root) {
    root.querySelectorAll("input.inline-edit").forEach(function (input) {
      input.dataset.original = input.value;
    });
  }

  function editedForm(input) {
    if (!input.matches || !input.matches("#journey-structure input.inline-edit")) return null;
    var form = input.form;
    if (!form || form.matches(".add-step, .add-stage")) return null;
    return form;
  }

  function fields(form) {
    return Array.prototype.slice.call(form.querySelectorAll("input.inline-edit"));
  }

  document.addEventListener("keydown", function (event) {
    var form = editedForm(event.target);
    if (!form || event.key !== "Escape") return;
    fields(form).forEach(function (input) { input.value = input.dataset.original || ""; });
    event.target.blur();
  });

  // A row being saved is no longer "changed": its fields are about to be replaced.
  document.addEventListener(
    "submit",
    function (event) {
      if (!event.target.closest || !event.target.closest("#journey-structure")) return;
      fields(event.target).forEach(function (input) { input.dataset.original = input.value; });
    },
    true
  );

  // Leaving a changed row saves it (as Enter does); moving between its own fields does not.
  document.addEventListener("focusout", function (event) {
    var form = editedForm(event.target);
    if (!form || !form.isConnected || (event.relatedTarget && form.contains(event.relatedTarget))) {
      return;
    }
    var changed = fields(form).some(function (input) { return input.value !== input.dataset.original; });
    var name = form.querySelector("input[required]");
    if (changed && name && name.value.trim()) form.requestSubmit();
  });

  function init() {
    document.documentElement.classList.add("js-editor");
    var root = document.getElementById("journey-structure");
    if (!root) return;
    initEditing(root);
    initSortables(root);
  }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target.id === "journey-structure") init();
  });
})();
