"""The Image-info and History tabs' event handlers: saved images in, the form filled out.

Reading an image's parameters, listing, searching, restoring and deleting history entries;
both tabs fill the generator's form through :func:`huatu.ui.form.send_to_generate`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from huatu.edit_fields import IMG2IMG, INPAINT
from huatu.errors import HuatuError, explain
from huatu.history.sources import MASK_KEY, SOURCE_KEY, load_picture
from huatu.messages import message
from huatu.metadata import parse_parameters
from huatu.service import ImageService
from huatu.ui.common import error_for_person, request_language
from huatu.ui.form import EDIT_KEYS, send_to_generate

if TYPE_CHECKING:
    from huatu.history import HistoryStore

#: Most entries the history gallery shows.
HISTORY_LIMIT = 100
#: Characters of the prompt shown as a history image's caption.
CAPTION_CHARS = 60


@dataclass
class SavedImageHandlers:
    """The Image-info and History tabs' event handlers.

    Attributes:
        service: the studio's service (its settings keep secrets out of error messages).
        history: the history store, or ``None`` when the service keeps none (the History
            tab then stays empty). Default ``None``.
    """

    service: ImageService
    history: HistoryStore | None = None

    def read_image_info(
        self, file: str | None, request: gr.Request | None = None
    ) -> tuple[str, dict | None]:
        """The dropped image's parameters text and its fields for the form."""
        from huatu.metadata import parse_parameters, read_parameters

        language = request_language(request)
        if not file:
            return "", None
        try:
            text = read_parameters(Path(file))
        except HuatuError as error:
            raise error_for_person(error, self.service, language) from None
        if not text:
            return message("no_parameters", language), None
        return text, parse_parameters(text).to_request_fields()

    def _restore_files(self, parameters: str, language: str) -> None:
        """Load again the model and VAE the image was made with (when here), and tell the
        person which of its files are missing or could not be loaded."""
        parsed = parse_parameters(parameters)
        try:
            missing = self.service.restore_files(parsed.settings, parsed.prompt)
        except HuatuError as error:
            gr.Warning(html.escape(explain(error, language, self.service.settings)))
            return
        if missing:
            gr.Warning(html.escape(message("restore_missing", language, files=", ".join(missing))))

    def history_items(self, query: str = "") -> tuple[list, list[int]]:
        """The history gallery (newest first) and the ids in the same order."""
        if self.history is None:
            return [], []
        entries = self.history.list(query or "", limit=HISTORY_LIMIT)
        return [(str(e.path), e.prompt[:CAPTION_CHARS]) for e in entries], [e.id for e in entries]

    def select_history(self, ids: list[int], evt: gr.SelectData) -> tuple[int | None, str, Any]:
        """The selected history entry's id and its parameters text, and the pictures an
        editing run started from (source, mask) beside them."""
        if self.history is None or evt.index is None or not 0 <= evt.index < len(ids):
            return None, "", gr.update(visible=False)
        entry = self.history.get(ids[evt.index])
        if entry is None:
            return None, "", gr.update(visible=False)
        outputs = self.service.settings.outputs_dir
        kept = [load_picture(outputs, entry.extra.get(key)) for key in (SOURCE_KEY, MASK_KEY)]
        shown_pictures = [picture for picture in kept if picture is not None]
        sources = gr.update(value=shown_pictures, visible=bool(shown_pictures))
        return entry.id, entry.parameters, sources

    def restore_history(self, entry_id: int | None, request: gr.Request | None = None) -> Any:
        """Like :func:`~huatu.ui.form.send_to_generate`, from a history entry; an editing
        run's entry also brings back its mode, its source picture and its mask."""
        entry = self.history.get(entry_id) if self.history is not None and entry_id else None
        if entry is None:
            gr.Warning(message("history_nothing_selected", request_language(request)))
            return gr.skip()
        outputs = self.service.settings.outputs_dir
        self._restore_files(entry.parameters, request_language(request))
        parsed = parse_parameters(entry.parameters).to_request_fields()
        edits = {name: parsed[name] for name in EDIT_KEYS if name in parsed}
        return send_to_generate(
            {**entry.request_fields(), **edits},
            request,
            picture=load_picture(outputs, entry.extra.get(SOURCE_KEY)),
            mask=load_picture(outputs, entry.extra.get(MASK_KEY)),
        )

    def send_info_to_generate(
        self, fields: dict | None, file: str | None, request: gr.Request | None = None
    ) -> Any:
        """Image info's "Send to Generate": the settings, and for an editing run's image its
        mode and controls, with the image itself as the picture to start from."""
        picture = None
        if fields and file:
            from huatu.metadata import read_parameters

            try:
                text = read_parameters(Path(file))
            except HuatuError:
                text = None
            if text:
                self._restore_files(text, request_language(request))
        if fields and fields.get("mode") in (IMG2IMG, INPAINT) and file:
            from huatu.images import read_image

            try:
                picture = read_image("image", Path(file))[0].image
            except HuatuError:
                picture = None
        return send_to_generate(fields, request, picture=picture)

    def send_entry_to_edit(
        self, entry_id: int | None, mode: str, request: gr.Request | None = None
    ) -> tuple:
        """ "Send to image to image / inpaint" from a history entry (its picture)."""
        from huatu.ui.edits import send_to_edit

        entry = self.history.get(entry_id) if self.history is not None and entry_id else None
        roots = (self.service.settings.outputs_dir,)
        return send_to_edit(entry.path if entry else None, mode, request, roots=roots)

    def delete_history(
        self, entry_id: int | None, query: str, request: gr.Request | None = None
    ) -> tuple:
        """Delete an entry (row and file); return the refreshed gallery, ids, selection, details."""
        language = request_language(request)
        if self.history is None or entry_id is None:
            gr.Warning(message("history_nothing_selected", language))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            deleted = self.history.delete(entry_id)
        except HuatuError as error:
            raise error_for_person(error, self.service, language) from None
        if deleted:
            gr.Info(message("history_deleted", language))
        items, ids = self.history_items(query)
        return items, ids, None, ""
