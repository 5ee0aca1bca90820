from django.urls import path

from sessions_app import views

app_name = "sessions_app"

urlpatterns = [
    path("", views.index, name="index"),
    path("chat/new/", views.new, name="new"),
    path("chat/code.css", views.code_css, name="code_css"),
    path("chat/send/", views.send, name="send_first"),
    path("chat/<uuid:session_id>/", views.session_page, name="session"),
    path("chat/<uuid:session_id>/send/", views.send, name="send"),
    path("chat/<uuid:session_id>/model/", views.choose_model, name="choose_model"),
    path("chat/<uuid:session_id>/rename/", views.rename, name="rename"),
    path("chat/<uuid:session_id>/delete/", views.delete, name="delete"),
    path(
        "chat/<uuid:session_id>/answers/<uuid:message_id>/stream/",
        views.stream,
        name="stream",
    ),
    path(
        "chat/<uuid:session_id>/answers/<uuid:message_id>/again/",
        views.answer_again,
        name="answer_again",
    ),
    path(
        "chat/<uuid:session_id>/answers/<uuid:message_id>/text/",
        views.answer_text,
        name="answer_text",
    ),
    path(
        "chat/<uuid:session_id>/answers/<uuid:message_id>/stop/",
        views.stop,
        name="stop",
    ),
]
