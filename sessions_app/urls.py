from django.urls import path

from sessions_app import export, views

app_name = "sessions_app"

urlpatterns = [
    path("", views.index, name="index"),
    path("chat/new/", views.new, name="new"),
    path("chat/code.css", views.code_css, name="code_css"),
    path("chat/send/", views.send, name="send_first"),
    path("chat/search/", views.search_chats, name="search"),
    path("chat/<uuid:session_id>/", views.session_page, name="session"),
    path("chat/<uuid:session_id>/send/", views.send, name="send"),
    path("chat/<uuid:session_id>/model/", views.choose_model, name="choose_model"),
    path("chat/<uuid:session_id>/rename/", views.rename, name="rename"),
    path("chat/<uuid:session_id>/delete/", views.delete, name="delete"),
    *(
        path(
            f"chat/<uuid:session_id>/export.{extension}",
            views.export_chat,
            {"extension": extension},
            name=f"export_{extension}",
        )
        for extension in export.FORMATS
    ),
    path("chat/<uuid:session_id>/system-prompt/", views.system_prompt, name="system_prompt"),
    path(
        "chat/<uuid:session_id>/messages/<uuid:message_id>/edit/",
        views.edit,
        name="edit",
    ),
    path(
        "chat/<uuid:session_id>/messages/<uuid:message_id>/show/",
        views.show,
        name="show",
    ),
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
