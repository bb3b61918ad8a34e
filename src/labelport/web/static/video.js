// The item page of a video: draw its objects' boxes over the player at the current frame.
// The page gives the frame rate (data-rate) and the boxes per frame (data-frames, from
// labelport.web.video.frame_boxes); frame n covers [n / rate, (n + 1) / rate) seconds.
(function () {
  const player = document.getElementById("video-player");
  const canvas = document.getElementById("video-shapes");
  if (!player || !canvas) return;
  const rate = parseFloat(player.dataset.rate) || 25;
  const frames = JSON.parse(player.dataset.frames || "{}");
  const label = document.getElementById("video-frame");
  const context = canvas.getContext("2d");
  function draw() {
    const frame = Math.floor(player.currentTime * rate + 1e-6);
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.lineWidth = Math.max(1, canvas.width / 400);
    for (const [x, y, w, h, colour, name] of frames[frame] || []) {
      context.strokeStyle = colour;
      context.strokeRect(x, y, w, h);
      context.fillStyle = colour;
      context.fillText(name, x + 2, y + 10);
    }
    if (label) label.textContent = String(frame);
  }
  function onFrame() {
    draw();
    if (player.requestVideoFrameCallback) player.requestVideoFrameCallback(onFrame);
  }
  player.addEventListener("timeupdate", draw);
  player.addEventListener("seeked", draw);
  player.addEventListener("loadeddata", draw);
  if (player.requestVideoFrameCallback) player.requestVideoFrameCallback(onFrame);
})();
