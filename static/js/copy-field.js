// Fields whose value is meant to be copied (an invitation link) select it all
// when clicked. A script file, not an onclick attribute: the pages'
// Content-Security-Policy runs no inline script.
document.querySelectorAll("input.copy-field").forEach(function (field) {
  field.addEventListener("click", function () {
    field.select();
  });
});
