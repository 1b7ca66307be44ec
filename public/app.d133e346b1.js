// The Admin IDE: health and inference through the gateway's API, with the
// operator's key held for this browser tab only.

const KEY_STORAGE = "heady-edge.api-key";
const KEY_HEADER = "x-heady-api-key";

const apiPrefix = (
  document.querySelector('meta[name="heady-api-prefix"]')?.content || "/api"
).replace(/\/+$/, "");

// The tasks an operator can try; the model sits in the path, except for the
// OpenAI-compatible chat route, which takes it in the body.
const TASKS = {
  "text-classification": {
    label: "Text classification",
    models: ["distilbert/distilbert-base-uncased-finetuned-sst-2-english"],
    path: (model) => `hf-inference/models/${model}`,
    body: (model, text) => ({ inputs: text }),
    accept: "application/json",
    example: "The new gateway made our dashboard fast again.",
    help: "Text to classify as positive or negative.",
    render: renderClassification,
  },
  "feature-extraction": {
    label: "Feature extraction",
    models: ["sentence-transformers/all-MiniLM-L6-v2"],
    path: (model) => `hf-inference/models/${model}/pipeline/feature-extraction`,
    body: (model, text) => ({ inputs: text }),
    accept: "application/json",
    example: "Cache hits cost nothing.",
    help: "Text to turn into an embedding vector.",
    render: renderEmbedding,
  },
  chat: {
    label: "Chat completion",
    models: ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct"],
    path: () => "v1/chat/completions",
    body: (model, text) => ({
      model,
      messages: [{ role: "user", content: text }],
      max_tokens: 200,
    }),
    accept: "application/json",
    example: "In one sentence, what does an edge cache do?",
    help: "A message to the model; the model name travels in the request body.",
    render: renderChat,
  },
  "text-to-image": {
    label: "Text to image",
    models: ["stabilityai/stable-diffusion-xl-base-1.0", "heady-fake/text-to-image"],
    path: (model) => `hf-inference/models/${model}`,
    body: (model, text) => ({ inputs: text }),
    accept: "image/png",
    example: "A lighthouse at dusk, flat illustration",
    help: "A prompt; the answer is an image.",
    render: renderImage,
  },
};

const $ = (id) => document.getElementById(id);

// The key lives in sessionStorage (gone when the tab closes), or only in
// memory where storage is blocked; never in localStorage or a URL.
let keyInMemory = "";

function readKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return keyInMemory;
  }
}

function storeKey(key) {
  keyInMemory = key;
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage is blocked: the key stays in memory until the page goes.
  }
}

// One request to the API; answers are read whole, whatever their status.
// The fetch keeps the default cache mode: "no-store" or "reload" would add
// Cache-Control: no-cache, which tells the gateway to bypass its cache.
async function callApi(path, { method = "GET", headers = {}, body } = {}) {
  const started = performance.now();
  const response = await fetch(`${apiPrefix}/${path}`, {
    method,
    body,
    headers: { ...headers, [KEY_HEADER]: readKey() },
    credentials: "same-origin",
  });
  const payload = await readPayload(response);
  const elapsed = performance.now() - started;

  showQuota(response);
  if (response.status === 401) {
    $("key-state").textContent = "The gateway refused this tab's key; enter another.";
  }

  return { response, payload, elapsed };
}

async function readPayload(response) {
  const type = (response.headers.get("Content-Type") || "").toLowerCase();
  if (type.startsWith("image/")) {
    return { kind: "image", value: await response.blob() };
  }

  const text = await response.text();
  if (type.includes("json")) {
    try {
      return { kind: "json", value: JSON.parse(text) };
    } catch {
      // Not JSON after all: shown as text below.
    }
  }

  return { kind: "text", value: text };
}

// A readable sentence for an error answer, from its problem+json detail.
function describeFailure(response, payload) {
  const body = payload.kind === "json" && payload.value ? payload.value : {};
  const detail = [body.detail, body.error].find((item) => typeof item === "string");

  if (response.status === 401) {
    return `The API key was refused (401 Unauthorized). ${
      detail || "Enter a valid key."
    }`;
  }

  if (response.status === 429) {
    return `Too many requests (429).${detail ? ` ${detail}` : ""}${retryAt(response)}`;
  }

  const title = body.title || response.statusText || "Error";
  const text = detail || (payload.kind === "text" ? payload.value.slice(0, 200) : "");
  return `${response.status} ${title}${text ? `: ${text}` : ""}`;
}

// Retry-After is seconds or an HTTP date (RFC 9110 section 10.2.3).
function retryAt(response) {
  const value = (response.headers.get("Retry-After") || "").trim();
  const when = /^\d+$/.test(value)
    ? new Date(Date.now() + Number(value) * 1000)
    : new Date(Date.parse(value));
  if (!value || Number.isNaN(when.getTime())) return "";

  const wait = /^\d+$/.test(value) ? ` (Retry-After: ${value} s)` : "";
  return ` Try again after ${when.toLocaleTimeString()}${wait}.`;
}

function unreachable(error) {
  return `The gateway could not be reached (${error.message}).`;
}

function showMessage(element, text, tone = "info") {
  element.textContent = text;
  element.dataset.tone = tone;
}

// Rate-limit headroom. The seconds to reset come from the first item of the
// IETF RateLimit field (the origin's own; upstream items follow it), which
// needs no clock agreement between browser and server.
function showQuota(response) {
  const remaining = response.headers.get("X-RateLimit-Remaining");
  const limit = response.headers.get("X-RateLimit-Limit");
  if (remaining === null) return;

  const first = (response.headers.get("RateLimit") || "").split(",")[0];
  const seconds = /;\s*t=(\d+)/.exec(first)?.[1];
  const resets = seconds ? `, resets in ${seconds} s` : "";
  $("quota").textContent = `Rate limit: ${remaining} of ${limit} left${resets}`;
  $("result-remaining").textContent = `${remaining} of ${limit}`;
}

// Health ------------------------------------------------------------------

async function checkHealth() {
  const message = $("health-message");
  if (!readKey()) {
    showMessage(message, "Enter the API key first.", "error");
    return;
  }

  showMessage(message, "Checking health…");
  try {
    const { response, payload } = await callApi("edge/health");
    if (!response.ok) {
      clearHealth();
      showMessage(message, describeFailure(response, payload), "error");
      return;
    }

    showHealth(payload.value);
    showMessage(message, `Health checked: ${payload.value.status}.`, "ok");
  } catch (error) {
    clearHealth();
    showMessage(message, unreachable(error), "error");
  }
}

function showHealth(report) {
  setState($("health-status"), report.status);
  $("health-version").textContent = report.version || "unknown";
  $("health-edge").textContent = report.edge ? `yes: ${report.edge}` : "no, origin only";

  const rows = Object.entries(report.parts || {}).map(([name, part]) => {
    const { state, ...details } = part;
    const row = document.createElement("tr");
    const heading = document.createElement("th");
    heading.scope = "row";
    heading.textContent = name;
    const stateCell = document.createElement("td");
    setState(stateCell, state);
    const detailCell = document.createElement("td");
    detailCell.textContent = Object.entries(details)
      .map(([key, value]) => `${key}: ${value}`)
      .join(", ");
    row.append(heading, stateCell, detailCell);
    return row;
  });
  $("health-parts").replaceChildren(...rows);
}

function clearHealth() {
  setState($("health-status"), "unknown");
  $("health-version").textContent = "unknown";
  $("health-edge").textContent = "unknown";
  $("health-parts").replaceChildren();
}

function setState(element, state) {
  element.textContent = state || "unknown";
  element.className = `state state-${state || "unknown"}`;
}

// Inference ---------------------------------------------------------------

let imageUrl = null;

function fillTasks() {
  const taskSelect = $("task");
  for (const [value, task] of Object.entries(TASKS)) {
    taskSelect.append(new Option(task.label, value));
  }

  taskSelect.addEventListener("change", () => chooseTask(taskSelect.value));
  chooseTask(taskSelect.value);
}

function chooseTask(name) {
  const task = TASKS[name];
  const options = task.models.map((model) => new Option(modelLabel(model), model));
  $("model").replaceChildren(...options);
  $("inputs").value = task.example;
  $("inputs-help").textContent = task.help;
}

// Models of the bundled fake upstream (flask_heady_edge.fake_hf) answer
// without a network or an account, for the local demo.
function modelLabel(model) {
  return model.startsWith("heady-fake/") ? `${model} (offline demo)` : model;
}

async function runInference(event) {
  event.preventDefault();
  const message = $("inference-message");
  if (!readKey()) {
    showMessage(message, "Enter the API key first.", "error");
    return;
  }

  const task = TASKS[$("task").value];
  const model = $("model").value;
  const headers = { "Content-Type": "application/json", Accept: task.accept };
  if ($("skip-cache").checked) headers["x-use-cache"] = "false";

  const button = $("run");
  button.disabled = true;
  $("result").setAttribute("aria-busy", "true");
  showMessage(message, "Running…");
  try {
    const { response, payload, elapsed } = await callApi(`hf/${task.path(model)}`, {
      method: "POST",
      headers,
      body: JSON.stringify(task.body(model, $("inputs").value)),
    });
    showOutcome(response, elapsed);
    if (response.ok) {
      task.render(payload, $("inputs").value);
      const cache = response.headers.get("X-Heady-Cache") || "not reported";
      showMessage(message, `Done in ${formatTime(elapsed)}, cache ${cache}.`, "ok");
    } else {
      $("result-output").replaceChildren();
      showMessage(message, describeFailure(response, payload), "error");
    }
  } catch (error) {
    showMessage(message, unreachable(error), "error");
  } finally {
    button.disabled = false;
    $("result").removeAttribute("aria-busy");
  }
}

function showOutcome(response, elapsed) {
  $("result-status").textContent = `${response.status} ${response.statusText}`.trim();
  const cache = response.headers.get("X-Heady-Cache");
  const cell = $("result-cache");
  cell.textContent = cache || "not reported";
  cell.className = cache ? `cache cache-${cache.toLowerCase()}` : "";
  $("result-time").textContent = formatTime(elapsed);
}

function formatTime(milliseconds) {
  return milliseconds < 1000
    ? `${Math.round(milliseconds)} ms`
    : `${(milliseconds / 1000).toFixed(2)} s`;
}

function renderClassification(payload) {
  // The task answers [[{label, score}, ...]] for one input.
  const value = payload.value;
  const labels = Array.isArray(value?.[0]) ? value[0] : value;
  if (!Array.isArray(labels)) return renderRaw(payload);

  const table = document.createElement("table");
  table.className = "scores";
  table.createCaption().textContent = "Labels";
  const head = table.createTHead().insertRow();
  for (const title of ["Label", "Score"]) {
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = title;
    head.append(cell);
  }

  const body = table.createTBody();
  for (const { label, score } of labels) {
    const row = body.insertRow();
    row.insertCell().textContent = label;
    row.insertCell().textContent = Number(score).toFixed(4);
  }

  $("result-output").replaceChildren(table, rawDetails(payload));
}

function renderEmbedding(payload) {
  const vector = Array.isArray(payload.value?.[0]) ? payload.value[0] : payload.value;
  if (!Array.isArray(vector)) return renderRaw(payload);

  const summary = document.createElement("p");
  const head = vector.slice(0, 6).map((number) => Number(number).toFixed(4));
  summary.textContent = `A vector of ${vector.length} numbers: ${head.join(", ")}, …`;
  $("result-output").replaceChildren(summary, rawDetails(payload));
}

function renderChat(payload) {
  const choice = payload.value?.choices?.[0];
  if (!choice?.message) return renderRaw(payload);

  const reply = document.createElement("blockquote");
  reply.className = "reply";
  reply.textContent = choice.message.content;
  const about = document.createElement("p");
  about.className = "hint";
  about.textContent = `Model ${payload.value.model || "unknown"}, finish reason ${
    choice.finish_reason || "unknown"
  }.`;
  $("result-output").replaceChildren(reply, about, rawDetails(payload));
}

function renderImage(payload, prompt) {
  if (payload.kind !== "image") return renderRaw(payload);

  if (imageUrl) URL.revokeObjectURL(imageUrl);
  imageUrl = URL.createObjectURL(payload.value);
  const image = document.createElement("img");
  image.src = imageUrl;
  image.alt = `Generated image for the prompt: ${prompt}`;
  image.className = "generated";
  $("result-output").replaceChildren(image);
}

function renderRaw(payload) {
  const block = document.createElement("pre");
  block.textContent = formatPayload(payload);
  $("result-output").replaceChildren(block);
}

function rawDetails(payload) {
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "Raw response";
  const block = document.createElement("pre");
  block.textContent = formatPayload(payload);
  details.append(summary, block);
  return details;
}

function formatPayload(payload) {
  if (payload.kind === "json") return JSON.stringify(payload.value, null, 2);
  if (payload.kind === "image") return `(${payload.value.type} image)`;
  return payload.value;
}

// Key ---------------------------------------------------------------------

function showKeyState() {
  $("key-state").textContent = readKey()
    ? "A key is set for this browser tab."
    : "No key set.";
}

function setUpKeyForm() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("api-key");
    storeKey(input.value.trim());
    input.value = "";
    showKeyState();
    checkHealth();
  });

  $("forget-key").addEventListener("click", () => {
    storeKey("");
    showKeyState();
    clearHealth();
    showMessage($("health-message"), "The key was forgotten.");
  });
}

setUpKeyForm();
fillTasks();
$("health-refresh").addEventListener("click", checkHealth);
$("inference-form").addEventListener("submit", runInference);
showKeyState();
if (readKey()) checkHealth();
