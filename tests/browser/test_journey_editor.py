"""The journey editor: names edited in place, stages and steps moved by drag and drop."""

from playwright.sync_api import expect

from journeys.models import Stage, Step
from journeys.services import journey_install_default


def test_names_are_edited_in_place_and_cards_dragged(page, sign_in, member, workspace):
    journey = journey_install_default(workspace=workspace)
    sign_in(member)
    page.goto(f"/w/acme/settings/journeys/{journey.uuid}/")
    trial = Step.objects.get(journey=journey, name="Trial")

    name = page.locator(f"#step-name-{trial.uuid}")
    name.click()
    name.fill("Free trial")
    name.press("Escape")
    expect(name).to_have_value("Trial")
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    name.click()
    name.fill("Free trial")
    with page.expect_response(lambda r: "/edit/" in r.url):
        name.press("Enter")
    expect(page.locator(f"#step-name-{trial.uuid}")).to_have_value("Free trial")
    trial.refresh_from_db()
    assert trial.name == "Free trial"

    churn_stage = Stage.objects.get(journey=journey, name="Renew or leave")
    handle = page.locator(f"#step-{trial.uuid} .step-handle")
    with page.expect_response(lambda r: "/place/" in r.url):
        handle.drag_to(page.locator(f'ol.steps[data-stage="{churn_stage.uuid}"]'))
    expect(
        page.locator(f'ol.steps[data-stage="{churn_stage.uuid}"] #step-{trial.uuid}')
    ).to_have_count(1)
    trial.refresh_from_db()
    assert trial.stage_id == churn_stage.pk

    first = Stage.objects.get(journey=journey, position=0)
    last = Stage.objects.filter(journey=journey).order_by("-position").first()
    with page.expect_response(lambda r: "/place/" in r.url):
        page.locator(f"#stage-{last.uuid} .stage-handle").drag_to(
            page.locator(f"#stage-{first.uuid}"), target_position={"x": 8, "y": 40}
        )
    last.refresh_from_db()
    assert last.position == 0
