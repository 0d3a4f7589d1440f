from django.urls import path

from . import views

urlpatterns = [
    path("upload", views.upload),
    path("files", views.file_list),
    path("files/<int:file_id>", views.file_detail),
]
