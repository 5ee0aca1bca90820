// The composer's Send, read to the end of its answer: the message is posted with fetch
// asking for an event stream, and the new turn and then its answer's events come on that
// one response (sessions_app.views._answered). No second request opens the answer's
// stream: that round trip was a third of the wait from Enter to the first token
// (bench/README.md). The events are swapped in with htmx.swap, as htmx's SSE extension
// swaps a stream's. If the response ends before the answer does (a dropped connection, a
// proxy's timeout), the answer opens its own stream (sessions_app.views.stream), which
// replays it from its start. The first message of a new chat, sent from the start page,
// comes back as the chat's page, which the start page becomes, and then its answer.
import { createParser } from "./vendor/eventsource-parser-3.1.1.js";

const EVENT_STREAM = "text/event-stream";

document.addEventListener("htmx:confirm", (event) => {
  const form = event.detail.elt;
  if (!form.matches?.("form[data-answer-follows]")) return;
  event.preventDefault(); // htmx does not post it: this does
  // One at a time, until its turn is in the page: Enter meanwhile leaves the text in the box.
  if (!form.dataset.sending) send(form);
});

// Why an earlier message or model was refused is over once a message is in: the form's
// errors go, and the model's line beside the picker (a target of its own) empties.
const clearRefusals = (form) => {
  for (const line of form.querySelectorAll(".form-error:not(.send-failure)")) {
    if (line.id === "model-refusal") line.textContent = "";
    else line.remove();
  }
};

const failure = (form, text) => {
  const line = form.querySelector(".send-failure");
  line.textContent = text;
  line.hidden = !text;
};

async function send(form) {
  const button = form.querySelector("button[type=submit]");
  let released = false;
  // Once per Send: a later call (this answer ending) must not release the next Send.
  const release = () => {
    if (released) return;
    released = true;
    delete form.dataset.sending;
    button.disabled = false;
  };
  form.dataset.sending = "yes";
  button.disabled = true;
  failure(form, "");
  // Form-encoded, as htmx posts a form: Django parses it faster than multipart.
  const body = new URLSearchParams(new FormData(form));
  const sent = body.get("content");
  try {
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body,
        headers: { Accept: EVENT_STREAM, "HX-Request": "true", "HX-Current-URL": location.href },
      });
    } catch {
      failure(form, "Switchboard could not be reached: your message was not sent. Send it again.");
      return;
    }
    // Once the turn is in the page, given what the box held just before: the box empties,
    // unless that is what was typed since, which stays (in a new page's box too).
    const turned = (typed) => {
      release();
      clearRefusals(form);
      const box = document.getElementById("id_content");
      if (box) box.value = typed === sent ? "" : typed;
    };
    if (!response.headers.get("Content-Type")?.startsWith(EVENT_STREAM)) {
      release();
      await answeredAsHtmx(form, response, turned);
      return;
    }
    await readAnswer(response, response.headers.get("HX-Replace-Url"), turned);
  } finally {
    release();
  }
}

// What htmx does with a response that is not the answer: the form again with why it was
// refused (aimed at the composer by HX-Retarget), another page to load; it swaps no error.
// Whatever went wrong, the message stays in the box.
async function answeredAsHtmx(form, response, turned) {
  const elsewhere = response.headers.get("HX-Redirect");
  if (elsewhere) {
    location.assign(elsewhere);
  } else if (response.redirected) {
    // To the sign-in page: going there would lose the message.
    failure(form, "You are signed out: sign in again in another tab, then send this again.");
  } else if (!response.ok) {
    failure(form, `Sending failed (HTTP ${response.status}). Reload the page and send it again.`);
  } else {
    const refused = response.headers.get("HX-Retarget"); // the composer, with the reason
    const swapStyle = response.headers.get("HX-Reswap") ?? "beforeend";
    const typed = document.getElementById("id_content")?.value ?? "";
    htmx.swap(refused ?? "#messages", await response.text(), { swapStyle });
    // Else the turn, its answer on a stream of its own (a server without a loop to run it
    // on this response): the message is sent.
    if (!refused) turned(typed);
  }
}

// The turn, or a new chat's page (`turned` is called once it is in the page), then the
// answer's events.
async function readAnswer(response, address, turned) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let answer = null; // the answer's article, once the turn is in the page
  let ended = false;
  const parser = createParser({
    onEvent: ({ event, data }) => {
      if (event === "turn" || event === "page") {
        const typed = document.getElementById("id_content")?.value ?? "";
        if (event === "turn") htmx.swap("#messages", data, { swapStyle: "beforeend" });
        else becomePage(data, address);
        answer = [...document.querySelectorAll("#messages [data-stream]")].pop();
        turned(typed);
      } else if (!answer?.isConnected) {
        reader.cancel(); // another branch is shown: the answer goes on without this page
      } else if (event === "html") {
        htmx.swap(answer.querySelector(".body.streaming"), data, { swapStyle: "innerHTML" });
      } else if (event === "done") {
        ended = true;
        htmx.swap(answer, data, { swapStyle: "outerHTML" });
      }
    },
  });
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      parser.feed(chunk.value);
    }
  } catch {
    // The connection broke (or this page could not show an event): the answer goes on in
    // the server, and is read again below, this response no more.
    reader.cancel().catch(() => {});
  }
  if (ended) return;
  // The turn was saved: the page shows it, and its answer (a new chat's, at its address;
  // a reload, not an assign, where an address with a #fragment would only scroll).
  if (!answer && address) location.assign(address);
  else if (!answer) location.reload();
  else if (answer.isConnected) follow(answer);
}

// The start page becomes the new chat's: its address, its title, its <main> (the layout
// around it is the same), the message box focused for the next question. Its entry in
// the history is replaced, as it became the chat: Back leads where the start page's would.
const becomePage = (html, address) => {
  const page = new DOMParser().parseFromString(html, "text/html");
  history.replaceState(null, "", address);
  document.title = page.title;
  htmx.swap("#main", page.getElementById("main").outerHTML, { swapStyle: "outerHTML" });
  document.getElementById("id_content")?.focus(); // none when no model is left to choose
};

// The answer's own stream, as the page opens it for an answer that was already running.
const follow = (answer) => {
  const copy = answer.cloneNode(true);
  copy.setAttribute("hx-ext", "sse");
  copy.setAttribute("sse-connect", copy.dataset.stream);
  copy.setAttribute("sse-close", "done");
  htmx.swap(answer, copy.outerHTML, { swapStyle: "outerHTML" });
};
