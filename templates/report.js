/* The page reads, navigates and prints without this script. With it: an explorable figure becomes a
   slider, the "Contents" button opens the contents over the page on narrow screens, and a figure
   opens at full size in a viewer, large enough that its smallest text reads at 12 px or more. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  /* An explorable figure shows all its frames as a grid (without JavaScript, and in print); here
     it becomes a slider that shows one frame at a time. */
  document.querySelectorAll("figure.explorable").forEach(function (figure) {
    var frames = Array.prototype.slice.call(figure.querySelectorAll("figure.frame"));
    if (frames.length < 2) { return; }
    var controls = document.createElement("div");
    var label = document.createElement("label");
    var input = document.createElement("input");
    var output = document.createElement("output");
    controls.className = "frame-controls";
    input.type = "range";
    input.id = figure.id + "-step";
    input.min = "0";
    input.max = String(frames.length - 1);
    input.step = "1";
    input.value = "0";
    label.htmlFor = input.id;
    label.textContent = "Step";
    output.htmlFor = input.id;
    function show(i) {
      frames.forEach(function (frame, j) { frame.hidden = j !== i; });
      output.textContent = (i + 1) + " of " + frames.length + ": " + frames[i].dataset.frame;
      input.setAttribute("aria-valuetext", output.textContent);
    }
    input.addEventListener("input", function () { show(Number(input.value)); });
    controls.append(label, input, output);
    figure.insertBefore(controls, figure.firstChild);
    figure.classList.add("slider");
    show(0);
  });

  /* The contents, one tap away: on a narrow screen the button at the corner opens them over the
     page (without JavaScript its link does the same through :target). */
  var contents = document.getElementById("contents");
  var opener = document.querySelector("a.to-contents");
  function showContents(open) {
    contents.classList.toggle("open", open);
    opener.setAttribute("aria-expanded", String(open));
    opener.classList.toggle("shown", open);
    if (open) { contents.querySelector("a").focus(); }
  }
  opener.setAttribute("aria-expanded", "false");

  /* The button shows while the reader scrolls back up (looking for somewhere to go) and hides
     when they scroll on down or stop for a moment: at rest it covers no text. Open contents keep
     it shown; keyboard focus shows it too (CSS). */
  var lastY = window.scrollY;
  var rest = null;
  function reveal(shown) {
    opener.classList.toggle("shown", shown || contents.classList.contains("open"));
  }
  window.addEventListener("scroll", function () {
    var y = window.scrollY;
    if (Math.abs(y - lastY) >= 4) {
      reveal(y < lastY && y > 0);
      lastY = y;
    }
    clearTimeout(rest);
    rest = setTimeout(function () { reveal(false); }, 2500);
  }, { passive: true });

  /* Wide screens: the contents beside the text mark the section in view. */
  var links = {};
  contents.querySelectorAll("a[href^='#']").forEach(function (link) {
    links[decodeURIComponent(link.getAttribute("href").slice(1))] = link;
  });
  var marked = null;
  function markInView() {
    var current = null;
    document.querySelectorAll("main > section[id], footer[id]").forEach(function (section) {
      if (section.getBoundingClientRect().top <= window.innerHeight * 0.3) { current = section.id; }
    });
    var link = links[current] || null;
    if (link === marked) { return; }
    if (marked) { marked.removeAttribute("aria-current"); }
    if (link) { link.setAttribute("aria-current", "location"); }
    marked = link;
  }
  window.addEventListener("scroll", function () {
    window.requestAnimationFrame(markInView);
  }, { passive: true });
  markInView();
  opener.addEventListener("click", function (event) {
    event.preventDefault();
    showContents(!contents.classList.contains("open"));
  });
  contents.addEventListener("click", function (event) {
    if (event.target.closest("a")) { showContents(false); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && contents.classList.contains("open")) {
      showContents(false);
      opener.focus();
    }
  });

  /* A figure at full size: the drawing moves into a modal viewer, drawn at least at its own size
     and so large that its smallest text is 12 px; the viewer scrolls across it. */
  var viewer = document.querySelector("dialog.viewer");
  var stage = viewer.querySelector(".viewer-stage");
  var title = document.getElementById("viewer-title");
  var READABLE = 12;
  var shown = null;

  function smallestText(svg) {
    var least = Infinity;
    svg.querySelectorAll("text").forEach(function (text) {
      var matrix = text.getScreenCTM();
      var size = parseFloat(getComputedStyle(text).fontSize);
      if (matrix && size && text.getBBox().width > 0) {
        least = Math.min(least, size * Math.hypot(matrix.a, matrix.b));
      }
    });
    return least;
  }

  function fullWidth(graphic) {
    var drawn = graphic.getBoundingClientRect().width;
    var svg = graphic.querySelector("svg");
    if (!svg) { return Math.max(graphic.naturalWidth, drawn); }
    var natural = svg.width.baseVal.value;
    var least = smallestText(svg);
    return Math.ceil(Math.max(natural, isFinite(least) ? drawn * READABLE / least : natural));
  }

  // The drawing back in its figure. Also called on opening: a dialog closed a moment ago may not
  // have run its close event yet, and that late event must not take away the next drawing.
  function restore() {
    if (!shown) { return; }
    shown.graphic.style.width = "";
    shown.placeholder.replaceWith(shown.graphic);
    shown = null;
  }

  function open(figure) {
    if (viewer.open) { return; }
    restore();
    var graphic = figure.querySelector(":scope > .svg, :scope > img");
    if (!graphic) { return; }
    var width = fullWidth(graphic);
    var placeholder = document.createElement("div");
    placeholder.style.height = graphic.getBoundingClientRect().height + "px";
    graphic.replaceWith(placeholder);
    shown = { graphic: graphic, placeholder: placeholder };
    graphic.style.width = width + "px";
    stage.replaceChildren(graphic);
    var caption = figure.querySelector(":scope > figcaption");
    var group = figure.closest("figure.explorable");
    title.textContent = (group ? group.querySelector(":scope > figcaption").textContent + " " : "")
      + (caption ? caption.firstChild.textContent.trim() : "");
    viewer.showModal();
    stage.focus();
  }

  viewer.addEventListener("close", function () {
    if (!viewer.open) { restore(); }
  });
  viewer.querySelector(".viewer-close").addEventListener("click", function () { viewer.close(); });
  viewer.addEventListener("click", function (event) {
    if (event.target === viewer) { viewer.close(); }  // a click on the backdrop
  });

  document.querySelectorAll("main a.full-size").forEach(function (link) {
    var figure = link.closest("figure");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "full-size";
    button.textContent = "Full size";
    button.addEventListener("click", function () { open(figure); });
    link.replaceWith(button);
    var graphic = figure.querySelector(":scope > .svg, :scope > img");
    if (graphic) {
      graphic.classList.add("zoomable");
      graphic.addEventListener("click", function () { open(figure); });
    }
  });
}());
