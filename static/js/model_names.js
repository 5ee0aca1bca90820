// The model names page (gateways/partials/names.html): edits stay pending in the page
// until saved. A row is edited when its input differs from what is stored (data-saved;
// the original id and "" both mean "no gateway name"), or marked for deletion; the Save
// button shows their count, a confirmation names the kinds of change, and htmx posts only
// the pending rows. The server checks everything again: this script only keeps count.
"use strict";
(() => {
  const form = () => document.getElementById("names-form");

  const liveRows = () => [...(form()?.querySelectorAll("tbody tr[data-pk]:not(.is-deleted)") ?? [])];

  const isMarked = (row) => !row.querySelector("[data-delete]").disabled;

  const isRenamed = (row) => {
    const value = row.querySelector("input[type=text]").value.trim();
    const name = value === row.dataset.modelId ? "" : value;
    return !isMarked(row) && name !== row.dataset.saved;
  };

  const pending = () => {
    const rows = liveRows();
    return {
      renamed: rows.filter(isRenamed).length,
      deleted: rows.filter(isMarked).length,
      every: rows.length > 0 && rows.every(isMarked),
    };
  };

  const count = (n, one, many) => (n ? `${n} ${n === 1 ? one : many}` : "");

  // The same wording as gateways.names.Outcome.summary.
  const summary = ({ renamed, deleted }) =>
    [count(renamed, "rename", "renames"), count(deleted, "deletion", "deletions")]
      .filter(Boolean)
      .join(", ");

  const refresh = () => {
    const root = form();
    if (!root) return;
    for (const row of liveRows()) {
      row.classList.toggle("is-edited", isRenamed(row));
      row.classList.toggle("is-marked", isMarked(row));
    }
    const { renamed, deleted } = pending();
    const total = renamed + deleted;
    root.querySelector("[data-save]").hidden = total === 0;
    root.querySelector("[data-pending-note]").hidden = total === 0;
    root.querySelector("[data-count]").textContent = String(total);
  };

  const toggleDelete = (row) => {
    const marked = !isMarked(row);
    const input = row.querySelector("input[type=text]");
    const button = row.querySelector("[data-toggle-delete]");
    row.querySelector("[data-delete]").disabled = !marked;
    row.querySelector("[data-trash]").hidden = !marked;
    input.disabled = marked;
    button.textContent = marked ? "Revert" : "Delete";
    button.setAttribute("aria-label", `${button.textContent} ${row.dataset.modelId}`);
    refresh();
  };

  const submit = (everyModel) => {
    const root = form();
    root.querySelector("[name=every_model]").value = everyModel ? "1" : "";
    root.requestSubmit();
  };

  document.addEventListener("input", (event) => {
    if (event.target.closest("#names-form")) refresh();
  });

  document.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target || !target.closest("#names-form")) return;
    const row = target.closest("tr[data-pk]");
    const root = form();
    if (target.matches("[data-toggle-delete]")) {
      toggleDelete(row);
    } else if (target.matches("[data-reset]")) {
      row.querySelector("input[type=text]").value = "";
      refresh();
    } else if (target.matches("[data-save]")) {
      root.querySelector("#confirm-save [data-summary]").textContent = `Save ${summary(pending())}?`;
      root.querySelector("#confirm-save").showModal();
    } else if (target.matches("[data-confirm]")) {
      root.querySelector("#confirm-save").close();
      if (pending().every) root.querySelector("#confirm-every").showModal();
      else submit(false);
    } else if (target.matches("[data-confirm-every]")) {
      root.querySelector("#confirm-every").close();
      submit(true);
    } else if (target.matches("[data-cancel]")) {
      target.closest("dialog").close();
    }
  });

  // Only the pending rows travel: a provider of thousands of models would otherwise post
  // more fields than Django accepts (DATA_UPLOAD_MAX_NUMBER_FIELDS).
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt !== form()) return;
    const params = event.detail.parameters;
    for (const row of liveRows()) {
      if (!isRenamed(row) && !isMarked(row)) params.delete(`name-${row.dataset.pk}`);
    }
  });

  document.addEventListener("htmx:afterSettle", () => {
    refresh();
    // The server asks again when a batch would delete every model without saying so.
    document.querySelector("#confirm-every[data-open]")?.showModal();
  });

  window.addEventListener("beforeunload", (event) => {
    const { renamed, deleted } = pending();
    if (renamed + deleted === 0) return;
    event.preventDefault();
    event.returnValue = ""; // older Chromium asks only when this is set
  });

  document.addEventListener("DOMContentLoaded", refresh);
})();
