// The item page of a video: draw its objects' boxes over the player at the current frame, in
// an SVG in the video's pixel coordinates, and step one frame back or forward.
// The page gives the frame rate (data-rate), the frame count (data-count) and the boxes per
// frame (data-frames, from labelport.web.video.frame_boxes); frame n covers
// [n / rate, (n + 1) / rate) seconds.
(function () {
  const player = document.getElementById("video-player");
  const svg = document.getElementById("video-shapes");
  if (!player || !svg) return;
  const NS = "http://www.w3.org/2000/svg";
  const rate = parseFloat(player.dataset.rate) || 25;
  const count = parseInt(player.dataset.count, 10) || 0;
  const frames = JSON.parse(player.dataset.frames || "{}");
  const label = document.getElementById("video-frame");
  function current() {
    return Math.floor(player.currentTime * rate + 1e-6);
  }
  function element(name, attrs) {
    const made = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) made.setAttribute(key, String(value));
    return made;
  }
  function draw() {
    const frame = current();
    const drawn = [];
    for (const [x, y, w, h, colour, name] of frames[frame] || []) {
      const box = element("rect", {x: x, y: y, width: w, height: h, stroke: colour,
                                   class: "shape"});
      const title = element("title", {});
      title.textContent = name;
      box.append(title);
      const text = element("text", {x: x, y: y > 10 ? y - 2 : y + h + 9, fill: colour,
                                    "font-size": 9});  // above the box, else below it
      text.textContent = name;
      drawn.push(box, text);
    }
    svg.replaceChildren(...drawn);
    svg.dataset.frame = String(frame);
    if (label) label.textContent = String(frame);
  }
  function onFrame() {
    draw();
    if (player.requestVideoFrameCallback) player.requestVideoFrameCallback(onFrame);
  }
  for (const button of document.querySelectorAll("button[data-step]")) {
    button.addEventListener("click", function () {
      player.pause();
      const last = count > 0 ? count - 1 : Infinity;
      const frame = Math.min(last, Math.max(0, current() + parseInt(button.dataset.step, 10)));
      player.currentTime = (frame + 0.5) / rate;  // the middle of the frame: no rounding
    });
  }
  player.addEventListener("timeupdate", draw);
  player.addEventListener("seeked", draw);
  player.addEventListener("loadeddata", draw);
  if (player.requestVideoFrameCallback) player.requestVideoFrameCallback(onFrame);
  draw();
})();
