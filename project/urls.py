from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.decorators.csrf import ensure_csrf_cookie

from files_app import views
from schema.http import FileUploadGraphQLView
from schema.schema import schema

graphql_view = FileUploadGraphQLView.as_view(
    schema=schema,
    multipart_uploads_enabled=True,
    graphql_ide="graphiql" if settings.GRAPHQL_GRAPHIQL else None,
    allow_queries_via_get=False,
)

urlpatterns = [
    path("", views.index, name="index"),
    # ensure_csrf_cookie: the page and GraphiQL read `csrftoken` and send it as X-CSRFToken.
    path("graphql/", ensure_csrf_cookie(graphql_view), name="graphql"),
    path("files/<uuid:file_id>/download", views.download, name="file-download"),
    path("files/<uuid:file_id>/thumbnail", views.thumbnail, name="file-thumbnail"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
