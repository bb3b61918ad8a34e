// labelport web app: the little script the pages need (htmx does the rest).
"use strict";
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const field = document.querySelector(copy.dataset.copy);
    field.select();
    navigator.clipboard?.writeText(field.value);
  }
  const all = event.target.closest("[data-select-all]");
  if (all) {
    const boxes = document.querySelectorAll("input[name=ids]");
    const on = ![...boxes].every((box) => box.checked);
    boxes.forEach((box) => { box.checked = on; });
    updateSelection();
  }
});
document.addEventListener("change", (event) => {
  if (event.target.matches("input[name=ids]")) updateSelection();
});
function updateSelection() {
  const picked = document.querySelectorAll("input[name=ids]:checked").length;
  const count = document.querySelector("[data-selected-count]");
  if (count) count.textContent = String(picked);
  const button = document.querySelector("[data-export-selected]");
  if (button) button.disabled = picked === 0;
}
// Back/forward navigation may restore checked boxes: count them again.
window.addEventListener("pageshow", updateSelection);
// An upload sent by htmx (the Import form) shows how much of the file has gone.
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = document.querySelector("#upload-progress");
  if (bar && event.detail.lengthComputable) {
    bar.value = (100 * event.detail.loaded) / event.detail.total;
  }
});
