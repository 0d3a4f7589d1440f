from django.db import models


class StoredFile(models.Model):
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to="uploads/")  # the default storage: FileSystemStorage
    size = models.PositiveBigIntegerField()
    processed = models.BooleanField(default=False)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def as_json(self) -> dict:
        return {
            "id": self.pk,
            "name": self.name,
            "url": self.file.url,
            "size": self.size,
            "processed": self.processed,
            "uploaded_at": self.uploaded_at.isoformat(),
        }
