// Chat page behaviour htmx does not cover: Enter sends, Shift+Enter breaks the line;
// the composer clears after a send; new text keeps the conversation scrolled; Copy; a form
// with data-confirm asks first (the Content-Security-Policy forbids inline handlers).
"use strict";
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (box.id !== "id_content" || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  if (box.value.trim()) box.form.requestSubmit();
});

document.addEventListener("htmx:afterRequest", (event) => {
  if (event.detail.elt.id === "composer" && event.detail.successful) {
    const box = document.getElementById("id_content");
    if (box) box.value = "";
  }
});

const scrollToEnd = () => {
  const list = document.getElementById("messages");
  if (list) list.lastElementChild?.scrollIntoView({ block: "end" });
};
document.addEventListener("htmx:afterSwap", scrollToEnd);
document.addEventListener("htmx:sseMessage", scrollToEnd);

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const text = fetch(button.dataset.copyUrl, { credentials: "same-origin" }).then((answer) =>
    answer.ok ? answer.text() : Promise.reject(new Error(`HTTP ${answer.status}`)),
  );
  if (window.ClipboardItem) {
    // Handing the clipboard a promise keeps the click's permission while the text loads
    // (Safari refuses a write that comes after an awaited fetch).
    const blob = text.then((plain) => new Blob([plain], { type: "text/plain" }));
    await navigator.clipboard.write([new ClipboardItem({ "text/plain": blob })]);
  } else {
    await navigator.clipboard.writeText(await text);
  }
  button.textContent = "Copied";
  setTimeout(() => (button.textContent = "Copy"), 1500);
});

document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
