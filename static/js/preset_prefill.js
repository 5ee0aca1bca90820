// On the provider add form, choosing a preset fills in its protocol, base URL, name and
// private-network flag — but never over something the person typed themselves.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const preset = document.querySelector("select[data-presets]");
  if (!preset || !window.location.pathname.endsWith("/add/")) return;
  const presets = JSON.parse(preset.dataset.presets);
  const form = preset.form;
  const field = (name) => form.elements.namedItem(name);
  const untouched = (input, key) =>
    input.value === "" || Object.values(presets).some((p) => p[key] === input.value);

  preset.addEventListener("change", () => {
    const chosen = presets[preset.value];
    if (!chosen) return;
    field("protocol").value = chosen.protocol;
    field("allow_private_network").checked = chosen.allow_private_network;
    if (untouched(field("base_url"), "base_url")) field("base_url").value = chosen.base_url;
    if (untouched(field("name"), "label")) field("name").value = chosen.label;
  });
});
