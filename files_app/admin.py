import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from . import services
from .exceptions import FileServiceError
from .models import ApiToken, File, FileStatus, Webhook, WebhookDelivery
from .sizes import STEP, human_size


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    # Few, short columns: with the filter sidebar the list fits 1280 px (content types are
    # in the filter and on the change page).
    list_display = ("name", "owner", "kind", "status", "human_size", "uploaded_at")
    list_filter = ("status", "kind", "owner", "content_type")
    search_fields = ("name", "sha256", "id")
    list_select_related = ("owner",)
    date_hierarchy = "uploaded_at"
    ordering = ("-uploaded_at",)
    actions = ["reprocess"]
    readonly_fields = (
        "id",
        "owner",
        "name",
        "download",
        "exact_size",
        "content_type",
        "kind",
        "sha256",
        "status",
        "progress",
        "error",
        "uploaded_at",
        "processed_at",
        "version",
        "thumbnail_preview",
        "result_fields",
    )
    fieldsets = (
        (None, {"fields": ("id", "owner", "name", "download")}),
        ("Content", {"fields": ("exact_size", "content_type", "kind", "sha256")}),
        (
            "Processing",
            {"fields": ("status", "progress", "error", "uploaded_at", "processed_at", "version")},
        ),
        ("Result", {"fields": ("thumbnail_preview", "result_fields")}),
    )

    def has_add_permission(self, request):
        return False  # files arrive through the API, where they are validated and processed

    def has_change_permission(self, request, obj=None):
        return False  # every field is read-only: the change page is a view page, no SAVE

    @admin.display(description="Size", ordering="size")
    def human_size(self, file):
        return human_size(file.size)

    @admin.display(description="Size")
    def exact_size(self, file):
        """The change page adds the exact count, where the unit rounds it."""
        if file.size < STEP:
            return human_size(file.size)
        return f"{human_size(file.size)} ({file.size:,} bytes)"

    @admin.display(description="Download")
    def download(self, file):
        return format_html(
            '<a href="{}">{}</a>', reverse("file-download", args=[file.pk]), file.name
        )

    @admin.display(description="Thumbnail")
    def thumbnail_preview(self, file):
        if not file.thumbnail:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="max-width: 256px">',
            reverse("file-thumbnail", args=[file.pk]),
        )

    @admin.display(description="Result")
    def result_fields(self, file):
        if not file.result:
            return "—"
        return format_html(
            '<pre style="white-space: pre-wrap">{}</pre>',
            json.dumps(file.result, indent=2, ensure_ascii=False),
        )

    def has_reprocess_permission(self, request):
        return request.user.has_perm("files_app.reprocess_file")

    @admin.action(description="Reprocess the selected files", permissions=["reprocess"])
    def reprocess(self, request, queryset):
        """Through the service, so the same rights apply as over the API."""
        queued = refused = 0
        for file in queryset:
            try:
                reprocessed = services.file_reprocess(user=request.user, file_id=file.pk)
                queued += reprocessed.status == FileStatus.PENDING
            except FileServiceError:
                refused += 1
        self.message_user(request, f"{queued} file(s) queued for processing.", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"{refused} file(s) you may not reprocess were left alone.",
                messages.WARNING,
            )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Expiry can be changed here (cut a token short); deleting a token revokes it."""

    list_display = ("user", "name", "created_at", "expires_at", "unexpired", "last_used_at")
    search_fields = ("user__username", "name")
    readonly_fields = ("user", "token_hash", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False  # tokens are shown once, by `manage.py create_api_token`

    @admin.display(boolean=True, description="Unexpired")
    def unexpired(self, token):
        return token.expires_at is None or token.expires_at > timezone.now()


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ("event", "message_id", "status", "attempts", "responded_with", "last_attempt_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    show_change_link = True
    ordering = ("-created_at",)


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Webhooks are made through the API (the secret is shown to its owner once); here they
    are looked at, and deleted. The encrypted secret is never shown."""

    list_display = ("url", "owner", "events", "created_at")
    list_filter = ("owner",)
    search_fields = ("url",)
    readonly_fields = ("id", "owner", "url", "events", "created_at")
    fields = readonly_fields
    inlines = [DeliveryInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every delivery and how it went: a FAILED one is what an owner asks support about."""

    list_display = ("event", "webhook", "status", "attempts", "responded_with", "created_at")
    list_filter = ("status", "event")
    search_fields = ("message_id", "webhook__url")
    list_select_related = ("webhook",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "webhook",
        "event",
        "message_id",
        "status",
        "attempts",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "responded_with",
        "response_excerpt",
        "body",
    )
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
