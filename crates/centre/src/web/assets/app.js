// Daiban staff UI: keyboard navigation of the inbox (progressive enhancement; every page
// works without it). j / ArrowDown: next row; k / ArrowUp: previous row; Enter opens the
// focused row (it is a link); "/" jumps to the filters; n: next page. A form with
// data-confirm (approve, revoke a phone: one click that cannot be taken back) asks first.
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var msg = e.target && e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);
  function typing(e) {
    var t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  document.addEventListener("keydown", function (e) {
    if (typing(e) || e.altKey || e.ctrlKey || e.metaKey) return;
    var links = Array.prototype.slice.call(document.querySelectorAll("#inbox a.row-link"));
    var i = links.indexOf(document.activeElement);
    var move = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 }[e.key];
    if (move && links.length) {
      e.preventDefault();
      var next = links[Math.max(0, Math.min(links.length - 1, i < 0 ? 0 : i + move))];
      next.focus();
      next.closest("tr").scrollIntoView({ block: "nearest" });
    } else if (e.key === "/") {
      var f = document.querySelector("#filters select, #filters input");
      if (f) { e.preventDefault(); f.focus(); }
    } else if (e.key === "n") {
      var n = document.getElementById("next-page");
      if (n) n.click();
    }
  });
  document.addEventListener("focusin", function (e) {
    var rows = document.querySelectorAll("#inbox tr.focused");
    for (var r = 0; r < rows.length; r++) rows[r].classList.remove("focused");
    var tr = e.target.closest && e.target.closest("#inbox tr");
    if (tr) tr.classList.add("focused");
  });
})();
