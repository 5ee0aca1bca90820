// Chat page behaviour htmx does not cover: Enter sends, Shift+Enter breaks the line;
// the composer clears after a send; new text keeps the conversation scrolled; Copy of an
// answer and of each code block; a form with data-confirm asks first (the
// Content-Security-Policy forbids inline handlers); the shortcuts.
"use strict";
document.addEventListener("keydown", (event) => {
  const box = event.target;
  const sends = box.id === "id_content" || box.classList?.contains("edit-content");
  if (!sends || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  if (box.value.trim()) box.form.requestSubmit();
});

document.addEventListener("htmx:afterRequest", (event) => {
  if (event.detail.elt.id === "composer" && event.detail.successful) {
    const box = document.getElementById("id_content");
    if (box) box.value = "";
  }
});

// Once a frame, just before it is drawn: scrolling at once after every swap forced a
// layout that the frame then did again (a turn and its first token, read together, made
// three), and it was part of the wait for the first token (bench/README.md).
let scrollPending = false;
const scrollToEnd = () => {
  if (scrollPending) return;
  scrollPending = true;
  requestAnimationFrame(() => {
    scrollPending = false;
    document.getElementById("messages")?.lastElementChild?.scrollIntoView({ block: "end" });
  });
};
// Another version chosen keeps that message in view; anything else new is at the end.
document.addEventListener("htmx:afterSwap", (event) => {
  const chosen = event.detail.requestConfig?.elt?.dataset?.scrollTo;
  if (chosen) document.getElementById(chosen)?.scrollIntoView({ block: "nearest" });
  else scrollToEnd();
});
// A reopened chat opens at its latest message, one opened from a search result at that
// message (this script is deferred: the page is parsed).
const opened = location.hash && document.getElementById(location.hash.slice(1));
if (opened) opened.scrollIntoView({ block: "center" });
else scrollToEnd();
document.addEventListener("htmx:sseMessage", scrollToEnd);

// navigator.clipboard exists only in a secure context (https, localhost): on plain http
// under another host name a selected textarea and execCommand("copy") still reach it.
const copyText = async (text) => {
  if (navigator.clipboard && window.ClipboardItem) {
    // Handing the clipboard a promise keeps the click's permission while the text loads
    // (Safari refuses a write that comes after an awaited fetch).
    const blob = Promise.resolve(text).then((plain) => new Blob([plain], { type: "text/plain" }));
    await navigator.clipboard.write([new ClipboardItem({ "text/plain": blob })]);
  } else if (navigator.clipboard) {
    await navigator.clipboard.writeText(await text);
  } else {
    const area = document.createElement("textarea");
    area.value = await text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    if (!done) throw new Error("the browser refused to copy");
  }
};

const copied = (button, label) => {
  button.textContent = label;
  setTimeout(() => (button.textContent = "Copy"), 1500);
};

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy, button.copy-code");
  if (!button) return;
  const text = button.classList.contains("copy-code")
    ? button.closest("pre").querySelector("code").textContent
    : fetch(button.dataset.copyUrl, { credentials: "same-origin" }).then((answer) =>
        answer.ok ? answer.text() : Promise.reject(new Error(`HTTP ${answer.status}`)),
      );
  try {
    await copyText(text);
    copied(button, "Copied");
  } catch {
    copied(button, "Copy failed");
  }
});

// Each code block gets its own Copy, in finished answers and streaming ones alike (a
// streaming answer's blocks are swapped in anew as it grows).
const addCodeCopy = (root) => {
  const blocks = root.matches?.(".markdown pre") ? [root] : root.querySelectorAll(".markdown pre");
  for (const pre of blocks) {
    if (pre.querySelector(":scope > button.copy-code") || !pre.querySelector("code")) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-code";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy this code");
    pre.prepend(button);
  }
};
document.addEventListener("htmx:load", (event) => addCodeCopy(event.target));

document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// While an answer waits for its first token, it says for how long (the server said how
// long it had waited when it rendered; the first formatted text replaces the line).
setInterval(() => {
  for (const line of document.querySelectorAll(".waiting[data-waited]")) {
    line.dataset.since ??= String(performance.now());
    const counted = (performance.now() - Number(line.dataset.since)) / 1000;
    const seconds = Math.floor(Number(line.dataset.waited) + counted);
    line.querySelector(".elapsed").textContent = `${seconds} s`;
  }
}, 1000);

// Shortcuts (listed under the composer): Esc stops the answer streaming; "/" (outside a
// text field) or Shift+Esc focuses the message box; Ctrl+Shift+O starts a new chat.
document.addEventListener("keydown", (event) => {
  if (event.isComposing) return;
  const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
  if (event.key === "Escape" && event.shiftKey) {
    event.preventDefault();
    document.getElementById("id_content")?.focus();
  } else if (event.key === "Escape") {
    const stop = [...document.querySelectorAll("form.stop button")].pop();
    if (stop) {
      event.preventDefault();
      stop.click();
    }
  } else if (event.key === "/" && !typing) {
    event.preventDefault();
    document.getElementById("id_content")?.focus();
  } else if (event.key.toLowerCase() === "o" && event.ctrlKey && event.shiftKey) {
    event.preventDefault();
    document.getElementById("new-chat")?.requestSubmit();
  }
});
