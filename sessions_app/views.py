"""The chat pages. Views parse, look up scoped to the owner, call one method, render."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    reswap,
    retarget,
)

from providers import access
from providers.errors import UserFacingError
from providers.models import Provider
from sessions_app import answers, rendering, streaming
from sessions_app.forms import AnswerAgainForm, ChooseModelForm, MessageForm, RenameForm
from sessions_app.models import AnswerAgainError, ChatSession, Message, Role


def _sessions_of(request: HttpRequest) -> QuerySet[ChatSession]:
    return ChatSession.objects.filter(owner=request.user)


def _session(request: HttpRequest, session_id: UUID) -> ChatSession:
    # Another person's session is a 404, never a 403: its existence is not told.
    return get_object_or_404(_sessions_of(request), public_id=session_id)


def _page_context(request: HttpRequest, session: ChatSession | None) -> dict:
    """What the chat page needs: the sidebar, the conversation, and the composer."""
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
        "chat_messages": session.messages_to_show() if session else [],
        "form": form,
        "has_models": preselected is not None,
        "renderer": rendering.RENDERER,
        "model_notice": notice,
        **(_first_steps(request) if preselected is None else {}),
    }


def _first_steps(request: HttpRequest) -> dict:
    """For staff facing a chat no model can answer: the Ollama provider to verify and
    switch on, and the model its check will ask for (what `ollama pull` must fetch)."""
    if not request.user.is_staff:
        return {}
    ollama = Provider.objects.filter(preset="ollama").first()
    model = ollama.verification_model() if ollama else None
    return {"ollama": ollama, "ollama_model": model.model_id if model else ""}


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
    session = _session(request, session_id)
    return render(request, "sessions_app/session.html", _page_context(request, session))


@require_POST
async def send(request: HttpRequest, session_id: UUID | None = None) -> HttpResponse:
    response, reply, start = await streaming.database_trip(_send, request, session_id)
    if start is not None:
        answers.start(reply, start)  # the provider starts now, not when the stream opens
    return response


def _send(
    request: HttpRequest, session_id: UUID | None
) -> tuple[HttpResponse, Message | None, streaming.Start | Exception | None]:
    """Save the turn and, served under ASGI, claim its answer for this process, in one
    trip. A WSGI request (Django's test client) has no loop that outlives it to run the
    answer on: its stream starts it (stream)."""
    session = _session(request, session_id) if session_id else None
    form = MessageForm(request.POST, user=request.user)
    if not form.is_valid():
        # htmx does not swap 4xx bodies by default: answer 200 and aim at the composer.
        context = {"form": form, "session": session, "has_models": True}
        response = render(request, "sessions_app/partials/composer.html", context)
        if request.htmx:
            response = reswap(retarget(response, "#composer"), "outerHTML")
        return response, None, None
    session = session or ChatSession.objects.create(owner=request.user)
    titled = not session.title  # the first question names the chat: the page shows it at once
    question, reply = session.start_turn(
        content=form.cleaned_data["content"], model=form.cleaned_data["model"]
    )
    here = isinstance(request, ASGIRequest)
    start = streaming.claim(reply, granted=form.grant) if here else None
    if not request.htmx:
        response = redirect(session)
    elif session_id is None:  # the first message of a new chat: load its page
        response = HttpResponseClientRedirect(session.get_absolute_url())
    else:
        context = {"session": session, "question": question, "reply": reply, "titled": titled}
        response = render(request, "sessions_app/partials/turn.html", context)
    return response, reply, start


@require_GET
async def stream(request: HttpRequest, session_id: UUID, message_id: UUID) -> StreamingHttpResponse:
    """The answer's events: its task's, when it runs in this process; else the stored
    answer followed, when a task elsewhere has it; else a task started here (an answer
    Send did not start: a WSGI Send, Retry, Regenerate)."""
    # May end before it is read: its events stay readable.
    here = answers.running(message_id)
    # One trip to the database thread for the lookup, the claim and all the stream needs:
    # under a burst of new streams every trip queues behind the others' (bench/README.md).
    message, start = await streaming.database_trip(
        _claim, request, session_id, message_id, claim=here is None
    )
    if here is not None:
        events = here.read()
    elif start is None:
        events = streaming.follow(message)
    elif isinstance(request, ASGIRequest):
        # Started now, not at the first read: a client gone before its response is read
        # must not leave the claimed answer unstarted.
        events = answers.start(message, start).read()
    else:
        events = answers.start_and_read(message, start)
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy must pass tokens on as they come
    return response


def _claim(
    request: HttpRequest, session_id: UUID, message_id: UUID, *, claim: bool
) -> tuple[Message, streaming.Start | Exception | None]:
    message = get_object_or_404(
        Message.objects.select_related("session__owner", "llm_model__provider"),
        public_id=message_id,
        session__public_id=session_id,
        session__owner=request.user,
        role=Role.ASSISTANT,
    )
    return message, streaming.claim(message) if claim else None


@require_GET
def answer_text(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    """The answer's text as written, for Copy: the page carries it only rendered, once."""
    answer = get_object_or_404(
        Message, public_id=message_id, session__public_id=session_id, session__owner=request.user
    )
    return HttpResponse(answer.content, content_type="text/plain; charset=utf-8")


@require_POST
def answer_again(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    """Regenerate (with the model picked now) or Retry (with the answer's own model)."""
    session = _session(request, session_id)
    answer = get_object_or_404(session.messages, public_id=message_id)
    form = AnswerAgainForm(request.POST, user=request.user)
    try:
        if not form.is_valid():
            raise AnswerAgainError(" ".join(form.errors["model"]))
        chosen = form.cleaned_data["model"]
        model = chosen or access.grant(request.user, answer.llm_model_id).model
        reply = session.answer_again(answer, model=model)
    except UserFacingError as error:
        messages.error(request, error.user_message)
        return HttpResponseClientRefresh() if request.htmx else redirect(session)
    if not request.htmx:
        return redirect(session)
    return render(request, "sessions_app/partials/message.html", {"message": reply})


@require_POST
def stop(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    message = get_object_or_404(
        Message, public_id=message_id, session__public_id=session_id, session__owner=request.user
    )
    message.request_stop()
    return HttpResponse(status=204)


@require_POST
def choose_model(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """The picker changed: remember the model on the session, so a reload keeps it."""
    session = _session(request, session_id)
    form = ChooseModelForm(request.POST, user=request.user)
    if not form.is_valid():
        return HttpResponse(" ".join(form.errors["model"]))
    session.current_model = form.cleaned_data["model"]
    session.save(update_fields=["current_model", "updated_at"])
    return HttpResponse(status=204)


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


@require_POST
def delete(request: HttpRequest, session_id: UUID) -> HttpResponse:
    _session(request, session_id).delete()
    messages.success(request, "Chat deleted.")
    return redirect("sessions_app:index")
