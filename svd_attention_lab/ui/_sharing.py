"""The Presets & sharing tab: save, load, import from and export to ComfyUI, share links. A refusal is one
line in the tab's message (the API's endpoints raise it instead); whatever sets the controls goes
through the page's display state like every other change."""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import re

import gradio as gr

import presets
from svd_attention_lab.controls import with_named_parameters

from ._gradio import COPY_TO_CLIPBOARD, markdown_text, page_url
from ._page import Page
from ._state import Display

logger = logging.getLogger("app")
API_PROMPT_NAME = "svd-attention-lab-api-prompt.json"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "svd-attention-preset"


def _chosen(path: str | None, what: str) -> str:
    if not path:
        raise presets.PresetError(f"choose {what}")
    return path


class Sharing:
    def __init__(self, page: Page, tab: dict) -> None:
        self.page, self.tab = page, tab

    def said(self, text: str) -> dict:
        return {self.tab["message"]: markdown_text(text)}

    # --- reading: a preset file, a ComfyUI workflow ----------------------------------------------------

    def read_preset(self, path) -> tuple[presets.Preset, str]:
        try:
            preset = presets.Preset.from_file(_chosen(path, "a preset .json file"))
        except presets.PresetError:
            if _is_workflow(path):
                raise presets.PresetError("this file is a ComfyUI workflow, not a preset: load it with "
                                          "\"Import a ComfyUI workflow\" on the right") from None
            raise
        return preset, " ".join([f"Loaded preset {preset.name!r}.", *preset.notes])

    def read_workflow(self, path) -> tuple[presets.Preset, str]:
        found = presets.from_file(_chosen(path, "a ComfyUI workflow (.json, .png, .webp, .mp4)"))
        settings, scaled = self.page.studio.fit_import(found.settings)
        message = found.message + (f". Scaled to what this model renders: {', '.join(scaled)}" if scaled else "")
        return dataclasses.replace(found.to_preset(), settings=settings), message

    def load(self, reader, display: Display, user_presets, path) -> dict:
        """The page's upload: the controls set from the file, or one line saying why not."""
        try:
            preset, message = reader(path)
        except (presets.PresetError, ValueError) as exc:
            logger.info("refused upload: %s", exc)
            return self.said(f"Not loaded: {exc}")
        return {**self.page.restore(display, user_presets, preset, markdown_text(message)), **self.said(message)}

    def load_preset(self, display: Display, user_presets, path) -> dict:
        return self.load(self.read_preset, display, user_presets, path)

    def import_comfyui(self, display: Display, user_presets, path) -> dict:
        return self.load(self.read_workflow, display, user_presets, path)

    def api_reader(self, reader):
        """An API endpoint returning the values a file sets (by name: the restored controls)."""

        def endpoint(path):
            try:
                preset, message = reader(path)
            except (presets.PresetError, ValueError) as exc:
                raise gr.Error(html.escape(str(exc), quote=False), print_exception=False) from None
            shown = self.page.initial().controls
            values = {**shown.values, **{k: float(v) for k, v in preset.settings.items()}}
            return {**self.page.set_numbers(shown.replace(multipliers=preset.multipliers,
                                                          settings=tuple(values.items()))),
                    self.page.c["message"]: markdown_text(message)}

        return endpoint

    # --- writing: a preset, a ComfyUI export, a share link ---------------------------------------------

    @with_named_parameters
    def save_preset(self, name, description, include_settings, multipliers, settings, user_presets=None):
        t = self.tab
        try:
            preset = presets.Preset.from_controls(name, description, multipliers, settings, include_settings)
        except (presets.PresetError, ValueError) as exc:
            return self.said(f"Not saved: {exc}")
        user_presets = {**(user_presets or {}), preset.name: preset.to_dict()}
        path = self.page.studio.write(f"{_slug(preset.name)}.json", preset.to_json())
        return {t["saved_file"]: str(path), t["user_presets"]: user_presets,
                self.page.c["picker"]: gr.update(choices=_choices(user_presets), value=preset.name),
                **self.said(f"Saved preset {preset.name!r}: it is in the preset picker, and its file is above.")}

    @with_named_parameters
    def export_comfyui(self, image=None, multipliers=None, settings=None):
        """Both formats of the whole graph, naming the model file the app has loaded and the input image
        (placeholders and a Note where ComfyUI cannot load them as they are)."""
        t = self.tab
        start, end = settings["start"], settings["end"]
        files = {"checkpoint": self.page.studio.source.location, "image": image}
        workflow = presets.to_ui_workflow(multipliers, settings, **files)
        name = ("svd-attention-lab.json" if presets.uses_lab_node(multipliers, start, end)
                else "unet-temporal-attention-multiply.json")
        prompt = json.dumps(presets.to_api_prompt(multipliers, settings, **files), indent=2)
        notes = " ".join(presets.export_notes(multipliers, start, end, **files))
        return {t["snippet"]: prompt,
                t["comfy_files"]: [str(self.page.studio.write(name, json.dumps(workflow, indent=2))),
                                   str(self.page.studio.write(API_PROMPT_NAME, prompt))],
                **self.said(f"Exported: the workflow ({name}) and the API prompt ({API_PROMPT_NAME}). {notes}")}

    @with_named_parameters
    def share_link(self, image=None, multipliers=None, settings=None, include_settings=False,
                   request: gr.Request = None):
        defaults = self.page.studio.default_settings().as_dict()
        differing = {k: v for k, v in settings.items() if defaults.get(k) != v}  # defaults travel as nothing
        preset = presets.Preset.from_controls("Shared link", "", multipliers, differing, include_settings)
        url = presets.to_url(preset, page_url(request))
        digest, example = self.page.image_setup(image)
        if example in self.page.examples:  # an example travels by name; an uploaded image never travels
            return {self.tab["share_url"]: url + ("&" if "?" in url else "?") + f"image={example}", **self.said("")}
        return {self.tab["share_url"]: url,
                **self.said("The link holds the settings, not your uploaded image: whoever opens it uploads "
                            "their own.")}


def _is_workflow(path) -> bool:
    try:
        presets.from_file(path)
    except (presets.PresetError, ValueError):
        return False
    return True


def _choices(user_presets) -> list[str]:
    from ._page import preset_choices
    return preset_choices(user_presets)


def build_sharing() -> dict:
    p: dict = {}
    p["message"] = gr.Markdown(elem_id="presets-message")  # above the buttons, in sight of whichever was pressed
    with gr.Row(equal_height=False):
        with gr.Column():
            with gr.Row():
                p["name"] = gr.Textbox(label="Name", max_length=80, elem_id="preset-name")
                p["include_settings"] = gr.Checkbox(True, label="Include seed and generation settings")
            p["description"] = gr.Textbox(label="Description", lines=2, max_length=1000)
            p["save"] = gr.Button("Save preset", elem_id="save-preset")
            p["saved_file"] = gr.File(label="Preset file")
            p["upload"] = gr.File(label="Load a preset (.json)", file_types=[".json"], elem_id="upload-preset")
        with gr.Column():
            p["link"] = gr.Button("Copy share link", elem_id="share-button")
            p["share_url"] = gr.Textbox(label="Share link", buttons=["copy"], elem_id="share-url")
            p["upload_comfy"] = gr.File(label="Import a ComfyUI workflow (.json, .png, .webp, .mp4)",
                                        file_types=[".json", ".png", ".webp", ".mp4"], elem_id="upload-comfy")
            p["export"] = gr.Button("Export ComfyUI node", elem_id="export-comfyui")
            p["comfy_files"] = gr.File(label="ComfyUI workflow and API prompt", file_count="multiple",
                                       elem_id="comfy-files")
            p["snippet"] = gr.Code(label="ComfyUI API prompt (SVD image to video, with the node)", language="json",
                                   buttons=["copy"])
    return p


def wire_sharing(sharing: Sharing, c: dict, p: dict) -> None:
    p["user_presets"] = c["user_presets"]
    page = sharing.page
    restored = [*c["numbers"], *page.view_outputs, c["message"], p["message"]]
    state = [c["state"], c["user_presets"]]
    quiet = {"show_progress": "hidden"}
    controls = [*c["numbers"]]
    p["save"].click(sharing.save_preset, [p["name"], p["description"], p["include_settings"], *controls,
                                          c["user_presets"]],
                    [p["saved_file"], c["user_presets"], c["picker"], p["message"]], api_name="save_preset", **quiet)
    p["upload"].upload(sharing.load_preset, [*state, p["upload"]], restored, api_name=False, **quiet)
    p["upload_comfy"].upload(sharing.import_comfyui, [*state, p["upload_comfy"]], restored, api_name=False, **quiet)
    api_only = gr.Button(visible=False)  # the API's twins: the values a file sets, refusals raised
    api_only.click(sharing.api_reader(sharing.read_preset), p["upload"], [*c["numbers"], c["message"]],
                   api_name="load_preset")
    api_only.click(sharing.api_reader(sharing.read_workflow), p["upload_comfy"], [*c["numbers"], c["message"]],
                   api_name="import_comfyui")
    p["export"].click(sharing.export_comfyui, [c["image"], *controls], [p["snippet"], p["comfy_files"], p["message"]],
                      api_name="export_comfyui", **quiet)
    p["link"].click(sharing.share_link, [c["image"], *controls, p["include_settings"]], [p["share_url"], p["message"]],
                    api_name="share_link", **quiet).success(None, p["share_url"], None, js=COPY_TO_CLIPBOARD)
