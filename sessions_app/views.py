"""The chat pages. Views parse, look up scoped to the owner, call one method, render."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import NamedTuple
from uuid import UUID

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.handlers.asgi import ASGIRequest
from django.db import transaction
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    reswap,
    retarget,
)

from providers import access, seeding
from providers.errors import UserFacingError
from sessions_app import answers, export, rendering, search, streaming, trips
from sessions_app.forms import (
    AnswerAgainForm,
    ChooseModelForm,
    MessageForm,
    OpenMessageForm,
    RenameForm,
    SystemPromptForm,
)
from sessions_app.models import ChatSession, Message, Role


def _sessions_of(request: HttpRequest) -> QuerySet[ChatSession]:
    return ChatSession.objects.filter(owner=request.user)


def _session(request: HttpRequest, session_id: UUID) -> ChatSession:
    # Another person's session is a 404, never a 403: its existence is not told.
    session = get_object_or_404(_sessions_of(request), public_id=session_id)
    session.owner = request.user  # what the lookup filtered on: no query to read it again
    return session


def _page_context(
    request: HttpRequest, session: ChatSession | None, *, through: UUID | None = None
) -> dict:
    """What the chat page needs: the sidebar, the conversation (the branch through the
    message `through`, if given), and the composer."""
    form = MessageForm(user=request.user)
    current = session.current_model if session else None
    try:
        preselected = access.default_model(request.user, current=current)
    except access.NoUsableModelError:
        preselected = None
    notice = ""
    if session and preselected and session.messages.exists() and current != preselected:
        # The last model used here was switched off, or deleted (the key is then null).
        last = current.label if current else "The last model used here"
        notice = f"{last} is not available any more; {preselected.label} is selected instead."
    form.initial["model"] = preselected.pk if preselected else None
    return {
        "sessions": _sessions_of(request)[:100],
        "session": session,
        "chat_messages": session.messages_to_show(through=through) if session else [],
        "form": form,
        "has_models": preselected is not None,
        "renderer": rendering.RENDERER,
        "model_notice": notice,
        **(seeding.first_steps(request.user) if preselected is None else {}),
    }


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "sessions_app/session.html", _page_context(request, None))


@require_GET
@cache_control(max_age=24 * 3600, private=True)
def code_css(request: HttpRequest) -> HttpResponse:
    """The highlighted code's colours (rendering.code_stylesheet); its URL names the renderer."""
    return HttpResponse(rendering.code_stylesheet(), content_type="text/css; charset=utf-8")


@require_POST
def new(request: HttpRequest) -> HttpResponse:
    return redirect(ChatSession.objects.create(owner=request.user))


@require_GET
def session_page(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """The chat; ?message=<id> (a search result) shows the branch that message is on."""
    session = _session(request, session_id)
    form = OpenMessageForm(request.GET)
    through = form.cleaned_data["message"] if form.is_valid() else None
    context = _page_context(request, session, through=through)
    return render(request, "sessions_app/session.html", context)


@require_GET
def search_chats(request: HttpRequest) -> HttpResponse:
    """The person's chats and messages matching ?q=: the sidebar's results, or a page."""
    query = request.GET.get("q", "")
    context = {"query": query, "hits": search.search(request.user, query)}
    if request.htmx:
        return render(request, "sessions_app/partials/search_results.html", context)
    return render(request, "sessions_app/session.html", {**_page_context(request, None), **context})


@require_POST
async def send(request: HttpRequest, session_id: UUID | None = None) -> HttpResponse:
    return _answered(await trips.database_trip(_send, request, session_id))


@require_http_methods(["GET", "POST"])
async def edit(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    """GET: the question as a form, in its place. POST: send it again as edited, a new
    version of it with its own answer (ChatSession.edit); the page shows its branch."""
    if request.method == "GET":
        return await sync_to_async(_edit_form)(request, session_id, message_id)
    return _answered(await trips.database_trip(_send, request, session_id, message_id))


# The first event of a Send that carries its answer: the turn's partial, for the page to
# append before the answer's own events; or, for the first message of a new chat, the
# chat's page, which the start page becomes (its address in HX-Replace-Url).
TURN = "turn"
PAGE = "page"


class _Sent(NamedTuple):
    response: HttpResponse
    reply: Message | None = None
    start: streaming.Start | Exception | None = None  # the claim, when this process has it
    leads: str = ""  # TURN or PAGE: the response is to lead the answer's events as that event


def _answered(sent: _Sent) -> HttpResponse:
    """Start the answer claimed at Send: the provider starts now, not when a stream
    opens. When the page asked for it, the answer's events follow the turn on this
    response: one request from Enter to the last token, not two (bench/README.md)."""
    if sent.start is None:
        return sent.response
    answer = answers.start(sent.reply, sent.start)
    if not sent.leads:
        return sent.response
    first = streaming.sse(sent.leads, sent.response.content.decode())
    response = _event_stream(_led_by(first, answer.read()))
    if address := sent.response.get("HX-Replace-Url"):
        response["HX-Replace-Url"] = address
    return response


async def _led_by(first: str, events: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async with aclosing(events):
        async for event in events:
            yield event


def _send(request: HttpRequest, session_id: UUID | None, edited_id: UUID | None = None) -> _Sent:
    """Save the turn (a new one, or an edited question's) and, served under ASGI, claim
    its answer for this process, in one trip. A WSGI request (Django's test client) has
    no loop that outlives it to run the answer on: its stream starts it (stream)."""
    session = _session(request, session_id) if session_id else None
    edited = _question(session, edited_id) if edited_id else None
    data = request.POST
    if edited and "model" not in data:  # a page without JS posts the text alone
        data = data.copy()
        data["model"] = str(session.current_model_id or "")
    form = MessageForm(data, user=request.user)
    if not form.is_valid():
        return _Sent(_refused(request, form, session, edited))
    session = session or ChatSession.objects.create(owner=request.user)
    titled = not session.title  # the first question names the chat: the page shows it at once
    content, model = form.cleaned_data["content"], form.cleaned_data["model"]
    here = isinstance(request, ASGIRequest)
    # The turn, its answer's claim and its quota reservation in one transaction: one
    # commit, and on SQLite one wait for the write lock rather than three
    # (bench/README.md).
    with transaction.atomic():
        if edited:
            question, reply = session.edit(edited, content=content, model=model)
        else:
            question, reply = session.start_turn(content=content, model=model)
        start = streaming.claim(reply, granted=form.grant) if here else None
    if not request.htmx:
        return _Sent(redirect(session), reply, start)
    if edited:  # the branch below the question changed: the whole conversation is new
        return _Sent(_branch(request, session), reply, start)
    # The page's send.js accepts an event stream: the answer is to follow on this response
    # (only with a claim, so only under ASGI, whose loop outlives the view), and the
    # answer opens no stream of its own.
    carries = start is not None and "text/event-stream" in request.headers.get("Accept", "")
    if session_id is None and carries:  # the first message of a new chat: its page
        context = {**_page_context(request, session), "answer_follows": True}
        page = render(request, "sessions_app/session.html", context)
        page["HX-Replace-Url"] = session.get_absolute_url()
        return _Sent(page, reply, start, leads=PAGE)
    if session_id is None:  # htmx without send.js: it loads the chat's page
        return _Sent(HttpResponseClientRedirect(session.get_absolute_url()), reply, start)
    context = {
        "session": session,
        "question": question,
        "reply": reply,
        "titled": titled,
        "answer_follows": carries,
    }
    response = render(request, "sessions_app/partials/turn.html", context)
    return _Sent(response, reply, start, leads=TURN if carries else "")


def _refused(
    request: HttpRequest, form: MessageForm, session: ChatSession | None, edited: Message | None
) -> HttpResponse:
    """The form again, with its errors and what was typed."""
    # htmx does not swap 4xx bodies by default: answer 200 and aim at the form.
    if edited and not request.htmx:
        return _editing_page(request, session, edited, form)
    if edited:
        context = {"message": edited, "edit_form": form}
        response = render(request, "sessions_app/partials/edit.html", context)
        target = f"#message-{edited.public_id} > .bubble"
    else:
        context = {"form": form, "session": session, "has_models": True}
        response = render(request, "sessions_app/partials/composer.html", context)
        target = "#composer"
    if request.htmx:
        response = reswap(retarget(response, target), "outerHTML")
    return response


def _question(session: ChatSession, message_id: UUID) -> Message:
    return get_object_or_404(session.messages, public_id=message_id, role=Role.USER)


def _edit_form(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    session = _session(request, session_id)
    question = _question(session, message_id)
    form = MessageForm(initial={"content": question.content}, user=request.user)
    if not request.htmx:
        return _editing_page(request, session, question, form)
    context = {"message": question, "edit_form": form}
    return render(request, "sessions_app/partials/edit.html", context)


def _editing_page(
    request: HttpRequest, session: ChatSession, question: Message, form: MessageForm
) -> HttpResponse:
    """The chat page with `question` as a form in its place: Edit without JS."""
    context = {**_page_context(request, session), "editing": question.pk, "edit_form": form}
    return render(request, "sessions_app/session.html", context)


def _branch(request: HttpRequest, session: ChatSession) -> HttpResponse:
    context = {"chat_messages": session.messages_to_show()}
    return render(request, "sessions_app/partials/branch.html", context)


@require_GET
async def stream(request: HttpRequest, session_id: UUID, message_id: UUID) -> StreamingHttpResponse:
    """The answer's events: its task's, when it runs in this process; else the stored
    answer followed, when a task elsewhere has it; else a task started here (an answer
    Send did not start: a WSGI Send, Retry, Regenerate)."""
    # May end before it is read: its events stay readable.
    if (here := answers.running(message_id)) is not None:
        # Its task knows whose it is: no trip to the database to look the answer up. The
        # user was looked up already, for LoginRequiredMiddleware.
        if not here.is_of(request.user.pk, session_id):
            raise Http404("No such answer.")
        events = here.read()
    else:
        # One trip to the database thread for the lookup, the claim and all the stream
        # needs: under a burst of new streams every trip queues behind the others'
        # (bench/README.md).
        message, start = await trips.database_trip(_claim, request, session_id, message_id)
        if start is None:
            events = streaming.follow(message)
        elif isinstance(request, ASGIRequest):
            # Started now, not at the first read: a client gone before its response is
            # read must not leave the claimed answer unstarted.
            events = answers.start(message, start).read()
        else:
            events = answers.start_and_read(message, start)
    return _event_stream(events)


def _event_stream(events: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy must pass tokens on as they come
    return response


def _claim(
    request: HttpRequest, session_id: UUID, message_id: UUID
) -> tuple[Message, streaming.Start | Exception | None]:
    message = get_object_or_404(
        Message.objects.select_related("session__owner", "llm_model__provider"),
        public_id=message_id,
        session__public_id=session_id,
        session__owner=request.user,
        role=Role.ASSISTANT,
    )
    return message, streaming.claim(message)


@require_GET
def answer_text(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    """The answer's text as written, for Copy: the page carries it only rendered, once."""
    answer = get_object_or_404(
        Message, public_id=message_id, session__public_id=session_id, session__owner=request.user
    )
    return HttpResponse(answer.content, content_type="text/plain; charset=utf-8")


@require_POST
def answer_again(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    """Regenerate (with the model picked now) or Retry (with the answer's own model): a
    new version of the answer, shown in its place."""
    session = _session(request, session_id)
    answer = get_object_or_404(session.messages, public_id=message_id)
    form = AnswerAgainForm(request.POST, user=request.user)
    try:
        if not form.is_valid():
            raise access.ModelUnavailableError(" ".join(form.errors["model"]))
        chosen = form.cleaned_data["model"]
        model = chosen or access.grant(request.user, answer.llm_model_id).model
        reply = session.answer_again(answer, model=model)
    except access.ModelUnavailableError as error:
        if not request.htmx:
            messages.error(request, error.user_message)
            return redirect(session)
        # The page stays as it is; the reason goes beside the picker.
        return reswap(retarget(HttpResponse(error.user_message), "#model-refusal"), "innerHTML")
    except UserFacingError as error:
        messages.error(request, error.user_message)
        return HttpResponseClientRefresh() if request.htmx else redirect(session)
    if not request.htmx:
        return redirect(session)
    reply.versions = session.tree().versions(reply)
    return render(request, "sessions_app/partials/message.html", {"message": reply})


@require_POST
def show(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    """Another version chosen: its branch is shown, and the chat continues from it."""
    session = _session(request, session_id)
    session.show(get_object_or_404(session.messages, public_id=message_id))
    if not request.htmx:
        return redirect(f"{session.get_absolute_url()}#message-{message_id}")
    return _branch(request, session)


@require_POST
def system_prompt(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """The chat's own system prompt: sent, after the model's, with every later question."""
    session = _session(request, session_id)
    form = SystemPromptForm(request.POST)
    if form.is_valid():
        session.system_prompt = form.cleaned_data["system_prompt"]
        session.save(update_fields=["system_prompt", "updated_at"])
        messages.success(
            request,
            "System prompt saved: it goes with every question from now on."
            if session.system_prompt
            else "System prompt removed.",
        )
    else:
        messages.error(request, " ".join(form.errors["system_prompt"]))
    return redirect(session)


@require_POST
def stop(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    message = get_object_or_404(
        Message, public_id=message_id, session__public_id=session_id, session__owner=request.user
    )
    message.request_stop()
    return HttpResponse(status=204)


@require_POST
def choose_model(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """The picker changed: remember the model on the session, so a reload keeps it. The
    answer is what goes beside the picker: why the model is refused, or nothing."""
    session = _session(request, session_id)
    form = ChooseModelForm(request.POST, user=request.user)
    if not form.is_valid():
        return HttpResponse(" ".join(form.errors["model"]))
    session.current_model = form.cleaned_data["model"]
    session.save(update_fields=["current_model", "updated_at"])
    return HttpResponse("")


@require_POST
def rename(request: HttpRequest, session_id: UUID) -> HttpResponse:
    session = _session(request, session_id)
    form = RenameForm(request.POST)
    if form.is_valid():
        session.title = form.cleaned_data["title"]
        session.save(update_fields=["title", "updated_at"])
    else:
        messages.error(request, "A title needs one to 200 characters.")
    return redirect(session)


@require_GET
def export_chat(request: HttpRequest, session_id: UUID, extension: str) -> HttpResponse:
    """The chat as a file to download: Markdown to read, JSON with every version."""
    session = _session(request, session_id)
    write, content_type = export.FORMATS[extension]
    response = HttpResponse(write(session), content_type=content_type)
    name = export.filename(session, extension)  # ASCII: slugify's
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
def delete(request: HttpRequest, session_id: UUID) -> HttpResponse:
    _session(request, session_id).delete()
    messages.success(request, "Chat deleted.")
    return redirect("sessions_app:index")
