// ferlab's page: send a photo or a webcam frame to /v1/analyze, show the annotated image and
// one probability bar chart per face. Talks to this server only.
"use strict";

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const percent = (p) => `${(100 * p).toFixed(1)}%`;

function setStatus(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
}

function faceCard(face, index) {
  const card = element("section", "face");
  const title = element("h3", null, `Face ${index + 1}: `);
  title.append(element("span", "label", face.label), ` ${percent(face.probabilities[face.label])}`);
  card.append(title);
  const ranked = Object.entries(face.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [name, probability] of ranked) {
    const row = element("div", name === face.label ? "row top" : "row");
    const bar = element("span", "bar");
    const fill = element("span", "fill");
    fill.style.width = percent(probability);
    bar.append(fill);
    row.append(element("span", "name", name), bar, element("span", "value", percent(probability)));
    card.append(row);
  }
  return card;
}

function showResult(result) {
  const image = $("annotated");
  image.src = `data:image/png;base64,${result.annotated_png}`;
  image.hidden = false;
  $("faces").replaceChildren(...result.faces.map(faceCard));
  const size = `${result.image.width}x${result.image.height}`;
  const found = result.faces.length;
  const faces = found === 1 ? "1 face" : `${found} faces`;
  setStatus(found === 0 ? `No face found in the ${size} image.` : `${faces} found in the ${size} image.`);
}

async function analyze(blob, name) {
  setStatus(`Analysing ${name}…`);
  const form = new FormData();
  form.append("file", blob, name);
  try {
    const response = await fetch("/v1/analyze?annotated=true", { method: "POST", body: form });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    showResult(body);
  } catch (error) {
    $("annotated").hidden = true;
    $("faces").replaceChildren();
    setStatus(`Could not analyse ${name}: ${error.message}`, true);
  }
}

async function startWebcam() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("This browser gives no webcam access here (it needs https or localhost).", true);
    return;
  }
  try {
    const video = $("webcam");
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    video.hidden = false;
    $("webcam-capture").disabled = false;
    setStatus("Webcam on: press Capture and analyse.");
  } catch (error) {
    setStatus(`Webcam unavailable: ${error.message}`, true);
  }
}

function captureFrame() {
  const video = $("webcam");
  if (!video.videoWidth) {
    setStatus("The webcam has not sent a frame yet; try again.", true);
    return;
  }
  const canvas = element("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => analyze(blob, "webcam frame"), "image/png");
}

async function showModel() {
  try {
    const info = await (await fetch("/v1/models")).json();
    const classes = info.classes.join(", ");
    $("model-info").textContent = `Model ${info.loaded} (${classes}), detector ${info.detector}, ferlab ${info.version}.`;
  } catch (error) {
    $("model-info").textContent = `Model information unavailable: ${error.message}`;
  }
}

$("file-input").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) analyze(file, file.name);
});
$("webcam-start").addEventListener("click", startWebcam);
$("webcam-capture").addEventListener("click", captureFrame);
showModel();
