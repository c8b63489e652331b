/* Ardoise sign-in: picture taps, PIN keypad, print buttons. Plain ES5 for old tablets.
   Every form also works without this file (each tap then posts the page). */
(function () {
  "use strict";
  function each(list, fn) { for (var i = 0; i < list.length; i++) { fn(list[i], i); } }
  function target(el, selector) {
    while (el && el.nodeType === 1) { if (el.matches(selector)) { return el; } el = el.parentNode; }
    return null;
  }

  var form = document.querySelector("form.picture-code");
  if (form) {
    var field = form.querySelector("input[name=code]");
    var slots = form.querySelectorAll(".taps li");
    var taps = field.value ? field.value.split("-") : [];
    var pics = {};
    each(form.querySelectorAll("button[name=tap]"), function (b) { pics[b.value] = b; });
    var show = function () {
      each(slots, function (li, i) {
        li.innerHTML = "";
        var b = taps[i] && pics[taps[i]];
        if (b) {
          var img = b.querySelector("img").cloneNode(false);
          img.alt = b.textContent.replace(/\s+/g, " ").trim();
          li.appendChild(img);
        }
      });
    };
    form.addEventListener("click", function (e) {
      var b = target(e.target, "button[name=tap]");
      if (b) {
        e.preventDefault();
        if (taps.length >= slots.length) { return; }
        taps.push(b.value);
        field.value = taps.join("-");
        show();
        if (taps.length === slots.length) {
          each(form.querySelectorAll("button[name=tap]"), function (x) { x.disabled = true; });
          form.submit();
        }
        return;
      }
      if (target(e.target, "[data-restart]")) {
        e.preventDefault();
        taps = [];
        field.value = "";
        show();
      }
    });
  }

  var pin = document.querySelector("form.pin-code");
  if (pin) {
    var input = pin.querySelector("input[name=code]");
    var keypad = pin.querySelector(".keypad");
    keypad.hidden = false;
    keypad.addEventListener("click", function (e) {
      var k = target(e.target, "button[data-key]");
      if (!k) { return; }
      e.preventDefault();
      var key = k.getAttribute("data-key");
      if (key === "back") { input.value = input.value.slice(0, -1); }
      else if (input.value.length < 8) { input.value += key; }
    });
  }

  each(document.querySelectorAll("[data-print]"), function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { window.print(); });
  });
})();
