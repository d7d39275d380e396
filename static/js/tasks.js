// Tasks: the bulk bar shows only while rows are selected; task board cards move by drag and drop.
// Without JavaScript the bulk bar stays visible and each card's status menu moves it.
(function () {
  "use strict";

  function updateBulkBar() {
    var bar = document.querySelector("[data-bulk-bar]");
    if (!bar) return;
    var checked = document.querySelectorAll('input[name="tasks"][form="bulk-form"]:checked').length;
    bar.hidden = checked === 0;
    var count = bar.querySelector("[data-bulk-count]");
    if (count) count.textContent = checked === 1 ? "1 task selected:" : checked + " tasks selected:";
  }

  function moveCard(event) {
    var card = event.item;
    var status = event.to.dataset.status;
    if (!window.htmx || !status || event.to === event.from) return;
    window.htmx
      .ajax("POST", card.dataset.statusUrl, {
        source: card,
        target: card,
        swap: "outerHTML",
        values: { status: status, fragment: "card", next: window.location.pathname },
      })
      .then(function () {
        // Column counts and "Nothing here" placeholders come back with the results.
        window.htmx.ajax("GET", window.location.href, { target: "#task-results", swap: "outerHTML" });
      });
  }

  function initBoard(root) {
    if (!window.Sortable) return;
    root.querySelectorAll("ul.task-drop").forEach(function (list) {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "on";
      window.Sortable.create(list, {
        group: "tasks",
        draggable: ".task-card",
        filter: "select, a, button, input, label",
        preventOnFilter: false,
        animation: 120,
        onEnd: moveCard,
      });
    });
  }

  function init() {
    updateBulkBar();
    initBoard(document);
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("change", function (event) {
    if (event.target.matches('input[name="tasks"]')) updateBulkBar();
  });
  document.addEventListener("htmx:afterSettle", init);
})();
