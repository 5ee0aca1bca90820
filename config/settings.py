"""Django settings: the only module that reads the environment.

Every variable is listed, with its default, in README.md and .env.example. A `.env`
file beside manage.py is read first (ENV_FILE names another one, or none when empty);
real environment variables win over it.
"""

from __future__ import annotations

import base64
import binascii
import os
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from providers.keys import variables
from providers.presets import PRESETS

BASE_DIR = Path(__file__).resolve().parent.parent


class _Env(environ.Env):
    """django-environ, keeping the name of every variable read: those are Switchboard's
    own settings, which a catalogue may never name as a provider's key."""

    names_read: ClassVar[set[str]] = set()

    def get_value(self, var: str, *args: Any, **kwargs: Any) -> Any:
        self.names_read.add(var)
        return super().get_value(var, *args, **kwargs)


env = _Env()
_env_file = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if _env_file:
    environ.Env.read_env(_env_file)


def _required(name: str, how_to_fix: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} is not set: {how_to_fix}")
    return value


def _fernet_keys(raw: str) -> list[str]:
    """Check each key's shape here so a typo stops startup, not the first save."""
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            # The key itself is never echoed: it is a secret even when malformed.
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry {position} of {len(keys)} is not a Fernet key "
                "(32 url-safe base64-encoded bytes); "
                "`manage.py generate_encryption_key` prints a valid one."
            )
    return keys


def _at_least_one(name: str, default: int) -> int:
    """0 would lock every sign-in out (a failure limit) or none (a lockout time): refuse it."""
    value = env.int(name, default=default)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1, not {value}.")
    return value


def _cores() -> int:
    """The cores this process may run on, as Python 3.13's os.process_cpu_count() counts
    them: a container's cpuset counts; a CPU quota (`docker run --cpus`) does not show."""
    if hasattr(os, "sched_getaffinity"):  # not on macOS, which has only the machine's count
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


SECRET_KEY = _required(
    "SECRET_KEY", "set it to a long random string (`make run` writes one to .env)."
)
FIELD_ENCRYPTION_KEYS = _fernet_keys(
    _required(
        "FIELD_ENCRYPTION_KEYS",
        "set it to one or more comma-separated Fernet keys, newest first "
        "(`make run` writes one to .env).",
    )
)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Keys for the built-in providers, stored encrypted by `manage.py seed_providers`.
PROVIDER_API_KEYS = {
    preset.slug: env.str(preset.key_env_var, default="")
    for preset in PRESETS.values()
    if preset.key_env_var
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "config",
    "accounts",
    "providers",
    "sessions_app",
    "usage",
    "gateways",
]

# Django's own, but for the config.middleware versions of those that run without a thread
# hop under ASGI (config/middleware.py says why).
MIDDLEWARE = [
    "config.middleware.SecurityHeadersMiddleware",
    # Async-capable (WhiteNoise's middleware is sync-only, which sends every request,
    # each chat stream included, through a thread hop; bench/README.md).
    "servestatic.middleware.ServeStaticMiddleware",
    # After ServeStatic: static files are ours and need no policy of their own.
    "config.middleware.ContentSecurityPolicyMiddleware",
    "config.middleware.SessionStoreMiddleware",
    "config.middleware.CommonRequestMiddleware",
    "config.middleware.CsrfMiddleware",
    "config.middleware.UserMiddleware",
    # Every view needs a login unless it is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "config.middleware.MessagesMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.FrameOptionsMiddleware",
    # Last, as axes asks: it turns a login that axes refused into the lockout page. It is
    # async-capable, so it adds no thread hop to the chat streams (its async path misorders
    # one call, so the page shows the username as posted: jazzband/django-axes#1494).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool per worker process, which a connection goes back to at the end of every
    # request and of every database trip a stream makes (sessions_app/streaming.py): a
    # stream waiting on its provider holds none, so hundreds of streams share a few
    # connections, and WEB_CONCURRENCY workers x DB_POOL_SIZE stay under PostgreSQL's
    # max_connections (100 by default). Pooling and persistent connections exclude each
    # other: CONN_MAX_AGE stays 0 here.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": _at_least_one("DB_POOL_SIZE", default=8),
        # How long a request waits for a free connection before it fails.
        "timeout": 30,
    }
else:
    # Keep a connection open while its thread lives: a stream's checkpoints, twice a
    # second, reuse one instead of opening a file (and its PRAGMAs) each time, and so do
    # the requests sharing one of the worker's REQUEST_THREADS. SQLite has no server and
    # no connection limit: it costs a file.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; the busy timeout makes a second
        # writer wait instead of failing with "database is locked"; IMMEDIATE takes the
        # write lock at BEGIN, so a transaction never fails upgrading a read lock (a
        # deferred one does when another wrote meanwhile) and reads what the one before it
        # committed: SQLite ignores select_for_update, and this is what serialises the
        # transactions that use it. No atomic block waits on the network, so the app-wide
        # lock is held for milliseconds (admin change pages included).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
    # A file, not the in-memory default: shared-cache memory databases lock whole tables
    # and ignore the busy timeout, so tests of concurrent writers would fail spuriously.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# "fragments": the chat's finished messages as rendered (templates/sessions_app/partials/
# message.html), so a long chat is not rendered whole on every view. In each worker's
# memory: a miss only renders again, nothing is shared through it. About 3 KB a message.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "fragments",
        "OPTIONS": {"MAX_ENTRIES": 5000},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The axes backend comes first: it refuses a locked-out sign-in before any password is
# checked, so the right password is refused too until the lock lifts. It needs the request
# (authenticate(request, ...); the test Client's login() passes none: use force_login),
# and axes 8.3.1's backend has no aauthenticate, so Django's aauthenticate() fails with it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "sessions_app:index"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
}

# Sign-in throttling (django-axes). Failures are rows in the database, so every worker and
# instance counts the same ones. An account and a client address lock separately: many
# passwords for one account from many addresses, and many accounts from one address, both
# stop. The address is REMOTE_ADDR, which uvicorn sets (from X-Forwarded-For only when the
# connection comes from --forwarded-allow-ips); README.md, "Sign-in throttling".
AXES_HANDLER = "accounts.throttling.LoginThrottleHandler"
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_address"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = _at_least_one("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=_at_least_one("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True  # LoginThrottleHandler narrows what a success forgives
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# The longest answer kept, in characters (a model's max_answer_chars setting overrides
# it): past it the stream ends with an error and keeps the text so far. A million is
# about 250,000 tokens, past any model's output limit today, and a bounded cost per stream.
ANSWER_MAX_CHARS = _at_least_one("ANSWER_MAX_CHARS", default=1_000_000)
# The currency of every price and budget (an ISO 4217 code, shown beside amounts).
USAGE_CURRENCY = env.str("USAGE_CURRENCY", default="USD")
# Usage records older than this many days are removed by `manage.py prune_usage`; the
# daily totals (usage.UsageDay) stay.
USAGE_RETENTION_DAYS = _at_least_one("USAGE_RETENTION_DAYS", default=400)

# A stream silent this long (a model thinking before its first token) sends an SSE comment,
# which browsers ignore, so a proxy's read timeout (nginx: 60 s) does not cut it.
SSE_KEEPALIVE_SECONDS = _at_least_one("SSE_KEEPALIVE_SECONDS", default=15)

# The worker processes `python -m config.serve` starts (`make run`, the Docker image): one
# per core, at most 8 unless set. Each worker keeps database connections of its own, and
# PostgreSQL's default max_connections is 100; each also holds its own copy of the app
# (about 120 MB).
WEB_CONCURRENCY = _at_least_one("WEB_CONCURRENCY", default=min(_cores(), 8))
# The threads each worker runs its requests' sync code on, kept while it lives
# (config/request_threads.py). A request keeps its thread to its end, and one waiting on
# the database (SQLite's write lock under a burst) holds up the others given that thread:
# with 4, 200 streams at once waited 30 % longer than with a thread per request; with 32,
# as long, on less CPU and memory (bench/README.md). Idle ones cost next to nothing.
REQUEST_THREADS = _at_least_one("REQUEST_THREADS", default=32)

# Background work (a gateway sync) is queued in the database and run by `manage.py
# db_worker` (`make run` starts one beside the server; several may drain the queue).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A monitoring system's token for /gateways/stats.json (staff need none); unset: staff only.
MONITORING_TOKEN = env.str("MONITORING_TOKEN", default="")

# Secure by default: DEBUG off means HTTPS cookies unless the environment says otherwise.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz answers plain HTTP so a load balancer can probe the container directly.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Only our own files run or style a page: no inline script or style, no eval, no CDN.
# htmx is told the same in base.html (its htmx-config meta); README.md, "Content-Security-
# Policy", says what to add for an external asset.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # a data: image runs nothing; a stylesheet may inline an icon
        "connect-src": [SELF],  # the chat's EventSource and htmx's requests
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],  # as X_FRAME_OPTIONS; browsers that know CSP obey this one
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes says its version at INFO in every process that starts: every manage.py
    # command and every worker. Its lockouts are warnings, and still said.
    "loggers": {"axes.apps": {"level": "WARNING"}},
}

# The catalogue's ${NAME} key references (providers/keys/variables.py). Last, so every setting
# above is among the names read; the provider key variables are meant to be named.
CATALOGUE_KEY_VARIABLES = env.list("CATALOGUE_KEY_VARIABLES", default=[])
CATALOGUE_ADMIN_READS_ENV = env.bool("CATALOGUE_ADMIN_READS_ENV", default=False)
SWITCHBOARD_VARIABLES = frozenset(_Env.names_read) - {
    preset.key_env_var for preset in PRESETS.values()
}
# Read once at startup, like every other variable, and only these: no request ever holds
# the whole environment.
CATALOGUE_KEY_ENV = variables.provider_keys(
    os.environ, listed=CATALOGUE_KEY_VARIABLES, own=SWITCHBOARD_VARIABLES
)
