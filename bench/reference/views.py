from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .models import StoredFile
from .tasks import process


@csrf_exempt
@require_POST
def upload(request):
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return JsonResponse({"error": "no `file` field"}, status=400)
    row = StoredFile(name=uploaded.name, size=uploaded.size)
    row.file.save(uploaded.name, uploaded)  # FileSystemStorage under MEDIA_ROOT, then INSERT
    process.delay(row.pk)
    return JsonResponse(row.as_json(), status=201)


@require_GET
def file_list(request):
    return JsonResponse([row.as_json() for row in StoredFile.objects.order_by("-id")], safe=False)


@require_GET
def file_detail(request, file_id):
    return JsonResponse(get_object_or_404(StoredFile, pk=file_id).as_json())
