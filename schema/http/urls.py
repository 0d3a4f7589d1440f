"""The routes Django serves (POST /graphql/ is answered in front of Django: schema/http/asgi.py)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("graphql/", views.graphiql, name="graphql"),
    path("files/<uuid:file_id>/download", views.download, name="file-download"),
    path("files/<uuid:file_id>/thumbnail", views.thumbnail, name="file-thumbnail"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
