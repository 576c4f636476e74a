// headend console: shows every <time> in the browser's zone (UTC stays in
// the title, on hover). Everything works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var fmt = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" };
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d.getTime())) {
      el.textContent = d.toLocaleString(undefined, fmt);
    }
  });
});
