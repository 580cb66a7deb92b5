// convlab's training report: the few things that need a script. Everything it shows is also in
// the page without it (every probe image one after another, every value in a title).
(function () {
  'use strict';
  var errors = [];
  window.addEventListener('error', function (event) {
    errors.push(String(event.message));
    document.body.setAttribute('data-script-errors', errors.join(' | '));
  });
  document.documentElement.classList.add('js');
  var readout = document.getElementById('readout');
  function show(text) { readout.textContent = text; }

  // Pick the probe image: a thumbnail, or #image=K in the address.
  var probes = Array.prototype.slice.call(document.querySelectorAll('.probe'));
  var buttons = Array.prototype.slice.call(document.querySelectorAll('.pick button'));
  function select(image) {
    var found = probes.some(function (p) { return p.getAttribute('data-image') === image; });
    if (!found && probes.length > 0) { image = probes[0].getAttribute('data-image'); }
    probes.forEach(function (p) {
      p.classList.toggle('selected', p.getAttribute('data-image') === image);
    });
    buttons.forEach(function (b) {
      b.classList.toggle('selected', b.getAttribute('data-image') === image);
    });
    document.body.setAttribute('data-selected-image', image || '');
  }
  function fromHash() {
    var match = /image=(\d+)/.exec(window.location.hash);
    select(match ? match[1] : null);
  }
  buttons.forEach(function (b) {
    b.addEventListener('click', function () {
      var image = b.getAttribute('data-image');
      history.replaceState(null, '', '#image=' + image);
      select(image);
    });
  });
  window.addEventListener('hashchange', fromHash);
  fromHash();

  // Hover: any element with a data-tip (heat-map cells, curve points, probability bars).
  document.addEventListener('mouseover', function (event) {
    var el = event.target.closest ? event.target.closest('[data-tip]') : null;
    if (el) { show(el.getAttribute('data-tip')); }
  });

  // Hover over a grid of feature maps: which map, and the range its colours span.
  Array.prototype.forEach.call(document.querySelectorAll('img.fmap'), function (img) {
    var cols = Number(img.getAttribute('data-cols'));
    var mapH = Number(img.getAttribute('data-map-h'));
    var mapW = Number(img.getAttribute('data-map-w'));
    var scale = Number(img.getAttribute('data-scale'));
    var gap = Number(img.getAttribute('data-gap'));
    var ranges = img.getAttribute('data-ranges').split(' ').map(function (r) {
      return r.split(',').map(Number);
    });
    var layer = img.getAttribute('data-layer');
    img.addEventListener('mousemove', function (event) {
      // From the displayed size back to the PNG's pixels, then to a cell of the grid.
      var x = event.offsetX * img.naturalWidth / img.clientWidth;
      var y = event.offsetY * img.naturalHeight / img.clientHeight;
      var cellW = mapW * scale + gap, cellH = mapH * scale + gap;
      var col = Math.floor((x - gap) / cellW), row = Math.floor((y - gap) / cellH);
      var inX = x - gap - col * cellW, inY = y - gap - row * cellH;
      var map = row * cols + col;
      if (col < 0 || col >= cols || row < 0 || map >= ranges.length ||
          inX >= mapW * scale || inY >= mapH * scale) {
        return;
      }
      var r = ranges[map];
      show(layer + ': map ' + map + ' of ' + ranges.length + ', pixel (' +
           Math.floor(inY / scale) + ', ' + Math.floor(inX / scale) + '); colours from ' +
           r[0].toPrecision(4) + ' (dark) to ' + r[1].toPrecision(4) + ' (bright)');
    });
  });

  document.body.setAttribute('data-script', 'ready');
  console.log('convlab report: script ready, ' + probes.length + ' probe images');
})();
