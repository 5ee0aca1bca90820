// The model picker's search box (providers/partials/model_picker.html): Enter or ↓ moves
// to the select it fills, instead of submitting the form around it (in the composer,
// Enter would send the message).
"use strict";
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (!box.dataset?.picker || !(event.key === "Enter" || event.key === "ArrowDown")) return;
  if (event.isComposing) return;
  event.preventDefault();
  document.getElementById(box.dataset.picker)?.focus();
});
