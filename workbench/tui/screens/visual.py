"""The Visual screen: pins that look like a pin's image or an image file, or like a crop box inside
it, via :func:`workbench.services.visual.search` (as ``workbench visual search``); indexes the
dataset's images (``visual.index``), fuses the visual ranking with a stored walk ranking
(``visual.fuse``) and sends the ranking on screen and the walk to Compare."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.validation import Integer, Number
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from workbench.engine.errors import WorkbenchError
from workbench.services.parsing import ParseError, format_crop, parse_crop, parse_where
from workbench.tui.jobs import Job, JobContext
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.crop_preview import THUMBNAIL, CropPreview
from workbench.tui.widgets.explain_panel import CLOSE_EXPLAIN, ExplainHost, ExplainPanel
from workbench.tui.widgets.path_suggester import PathSuggester
from workbench.tui.widgets.ranked_pins import RankedPins

# ``workbench.services.visual`` loads numba, faiss and scipy: this module imports it where it is
# used, so importing the screen stays light (a test checks it), and the App imports it in a
# thread at start-up (``WorkbenchApp.warm_imports``), so the first show finds it loaded.
if TYPE_CHECKING:
    from PIL import Image

    from workbench.services import visual as svc
    from workbench.services.visual import Run

MODES = (("Like a pin", "pin"), ("Like an image file", "file"))
FUSIONS = (("reciprocal rank", "rrf"), ("weighted scores", "weighted"))
WALK_RUNS = 200
"""Recommend runs offered for fusion (the newest)."""
CROP_HELP = "Crop box on the picture: arrows move it, shift+arrows resize, Delete clears"


def crop_problem(text: str, size: tuple[int, int] | None) -> str | None:
    """Why ``text`` is not a crop box inside an image of ``size`` pixels (None: it is one, or the
    size is not known yet and only its form was checked)."""
    try:
        box = parse_crop(text)
    except ParseError as exc:
        return str(exc)
    if box is None or size is None:
        return None
    from workbench.services import visual as svc

    try:
        svc.check_box(box, *size)
    except svc.CropError as exc:
        return str(exc)
    return None


def query_pins(run: Run) -> list[str]:
    """The query pins of a recommend run (none for a board query)."""
    return [str(p) for p in run.query.get("pins", ())]


def walk_label(run: Run) -> str:
    pins = query_pins(run)
    query = ",".join(pins) if pins else f"board {run.query.get('board', '?')}"
    query = query if len(query) <= 24 else query[:23] + "…"
    return f"#{run.run_id} {run.name or run.algorithm} · {query}"


class VisualScreen(ExplainHost, WorkbenchScreen):
    """Left: the query image, its crop box and the search options; right: the ranking with the
    highlighted pin, and fusion with a walk ranking."""

    MODE = "visual"
    BINDINGS: ClassVar[list[BindingType]] = [
        *WorkbenchScreen.BINDINGS,  # Esc cancels a running job first
        CLOSE_EXPLAIN,
        # Footer labels are short (80 columns); the tooltip is the whole story, shown by F1.
        Binding("ctrl+r", "search", "Search", id="visual.search"),
        Binding(
            "ctrl+o",
            "index",
            "Index",
            id="visual.index",
            tooltip="Index the dataset's images (the built-in descriptor)",
        ),
        Binding(
            "ctrl+f", "fuse", "Fuse", id="visual.fuse", tooltip="Fuse this search with a walk run"
        ),
        Binding(
            "m",
            "compare",
            "Compare",
            id="visual.compare",
            tooltip="Compare the ranking on screen with a walk run",
        ),
        Binding("ctrl+b", "edit_crop", "Crop box", id="visual.crop", tooltip=CROP_HELP),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.visual_run: int | None = None
        """The last visual search's run (what Fuse combines with the walk)."""
        self.shown_run: int | None = None
        """The ranking on screen: the last search or the fusion made from it (what Compare
        compares with the walk)."""
        self.query_pin: str | None = None
        """The pin that search looked like (None for an image file)."""
        self.walk_runs: dict[int, Run] = {}
        self._search_after_index = False

    def compose_body(self) -> ComposeResult:
        from workbench.services import visual as svc

        with Horizontal(classes="body"):
            with VerticalScroll(id="visual-form", classes="panel") as form:
                form.border_title = "Query"
                yield Select(MODES, value="pin", allow_blank=False, id="vis-mode", compact=True)
                yield Input(placeholder="pin id", id="vis-pin", compact=True)
                yield Input(placeholder="image file, e.g. ~/Pictures/chair.jpg", id="vis-file",
                            suggester=PathSuggester(), compact=True)  # fmt: skip
                yield CropPreview(id="vis-query")
                with Horizontal(classes="param-row"):
                    yield Label("crop box", classes="param-name")
                    yield Input(placeholder="x,y,w,h  (empty: all of it)", id="vis-crop",
                                compact=True)  # fmt: skip
                yield Static(id="vis-crop-hint", classes="param-hint")
                with Horizontal(classes="param-row"):
                    yield Label("top k", classes="param-name")
                    yield Input(str(svc.TOP_K), id="vis-k", type="integer",
                                validators=[Integer(1, 10_000)], compact=True)  # fmt: skip
                with Horizontal(classes="param-row"):
                    yield Label("embedding", classes="param-name")
                    yield Select([], prompt="not indexed yet", id="vis-embedding", compact=True)
                with Horizontal(classes="param-row"):
                    yield Label("filter", classes="param-name")
                    yield Input(placeholder="e.g. topic=food", id="vis-where", compact=True)
                yield Checkbox("Leave out near-duplicates", id="vis-dedup", compact=True)
                yield Label(classes="field-error", id="vis-error")
                with Horizontal(classes="vis-buttons"):
                    yield Button("Search  (ctrl+r)", variant="primary", id="vis-search",
                                 compact=True)  # fmt: skip
                    yield Button("Index images  (ctrl+o)", id="vis-index", compact=True)
            with Vertical(id="visual-results"):
                yield RankedPins("vis", id="vis-ranking")
                with Vertical(id="vis-fuse", classes="panel") as fuse:
                    fuse.border_title = "Fuse with a walk ranking"
                    with Horizontal(classes="param-row"):
                        yield Label("walk run", classes="fuse-name")
                        yield Select([], prompt="no recommend runs", id="vis-walk", compact=True)
                    with Horizontal(classes="param-row"):
                        yield Label("method", classes="fuse-name")
                        yield Select(FUSIONS, value="rrf", allow_blank=False, id="vis-method",
                                     compact=True)  # fmt: skip
                        yield Label("visual weight", classes="fuse-weight-name")
                        yield Input("1", id="vis-weight", type="number",
                                    validators=[Number(minimum=0)], compact=True)  # fmt: skip
                        yield Button("Fuse (ctrl+f)", id="vis-fuse-go", compact=True)

    def on_mount(self) -> None:
        self.query_one("#vis-file").display = False
        self._show_crop_problem(None)
        self.watch(self.app, "dataset", self._dataset_changed)
        self.watch(self.app, "visual_request", self._pin_requested)
        self.query_one("#visual-form").can_focus = False  # Tab goes from field to field
        self.query_one("#vis-pin", Input).focus()

    def on_screen_resume(self) -> None:
        self._load_walk_runs()  # Recommend may have made new ones

    # -- the dataset --------------------------------------------------------------------------

    def _dataset_changed(self, dataset: str | None) -> None:
        """Nothing of the old dataset stays: its ranking and explanation go, and the pin and
        crop box typed for the new dataset come back (empty the first time)."""
        ExplainPanel.close_on(self)
        self.visual_run = self.shown_run = self.query_pin = None
        self._search_after_index = False
        self.query_one(RankedPins).clear()
        self.query_one("#vis-error", Label).update("")
        for name in ("pin", "crop"):
            box = self.query_one(f"#vis-{name}", Input)
            with box.prevent(Input.Changed):  # the query image is loaded below
                box.value = self.workbench.recall(f"visual.{name}", "")
        self._load_embeddings()
        self._load_walk_runs()
        self._load_query()

    def _load_embeddings(self) -> None:
        dataset, store = self.workbench.dataset, self.workbench.store
        ranking = self.query_one(RankedPins)
        if dataset is None:
            ranking.clear("No dataset in use: choose one on 1 Datasets")
            return

        from workbench.services import visual as svc

        def run(_ctx: JobContext) -> list[str]:
            return svc.embeddings(store, dataset)

        def done(names: list[str]) -> None:
            select = self.query_one("#vis-embedding", Select)
            current = select.value
            select.set_options([(n, n) for n in names])
            if names:
                select.value = current if current in names else (
                    svc.BUILTIN if svc.BUILTIN in names else names[0])  # fmt: skip
            if self.visual_run is None:
                key = self.workbench.key_for("visual.index", "ctrl+o")
                info = next((d for d in self.workbench.datasets if d.name == dataset), None)
                if names:
                    title = "Results"
                elif info is not None and info.images == 0:  # nothing to index
                    title = f"{dataset} has no images (load it with its images to search by look)"
                else:
                    title = f"Index the images of {dataset} first ({key})"
                ranking.clear(title)

        self.run_job(Job("visual.embeddings", "Reading embeddings", run, done,
                         show_progress=False))  # fmt: skip

    def _load_walk_runs(self) -> None:
        dataset, store = self.workbench.dataset, self.workbench.store

        def run(_ctx: JobContext) -> list[Run]:
            from workbench.services import visual as svc

            if dataset is None:
                return []
            return svc.fusable_runs(store, dataset, limit=WALK_RUNS)

        def done(runs: list[Run]) -> None:
            self.walk_runs = {r.run_id: r for r in runs}
            select = self.query_one("#vis-walk", Select)
            current = select.value
            with select.prevent(Select.Changed):
                select.set_options([(walk_label(r), r.run_id) for r in runs])
                if current in self.walk_runs:
                    select.value = current
            self._pick_walk()

        self.run_job(Job("visual.walks", "Reading walk runs", run, done, show_progress=False))

    def _pick_walk(self) -> None:
        """Choose the newest walk run of the searched pin, unless the one chosen has that pin."""
        select = self.query_one("#vis-walk", Select)
        pin = self.query_pin
        same_pin = [r for r in self.walk_runs.values() if pin is not None and pin in query_pins(r)]
        current = self.walk_runs.get(select.value) if isinstance(select.value, int) else None
        if current is not None and (not same_pin or current in same_pin):
            return
        choice = same_pin[0] if same_pin else next(iter(self.walk_runs.values()), None)
        if choice is not None:
            select.value = choice.run_id

    # -- the query image ----------------------------------------------------------------------

    def _pin_requested(self, pin: str | None) -> None:
        """A pin sent from Explore: search for pins that look like it."""
        if pin is None:
            return
        self.query_one("#vis-mode", Select).value = "pin"
        self.query_one("#vis-pin", Input).value = pin
        self.query_one("#vis-crop", Input).value = ""
        self.action_search()

    @property
    def by_pin(self) -> bool:
        return self.query_one("#vis-mode", Select).value == "pin"

    def _query_text(self) -> str:
        return self.query_one("#vis-pin" if self.by_pin else "#vis-file", Input).value.strip()

    @on(Input.Changed, "#vis-pin, #vis-crop")
    def _remember_query(self, event: Input.Changed) -> None:
        self.workbench.remember(f"visual.{str(event.input.id).removeprefix('vis-')}", event.value)

    @on(Select.Changed, "#vis-mode")
    def _mode_changed(self) -> None:
        self.query_one("#vis-pin").display = self.by_pin
        self.query_one("#vis-file").display = not self.by_pin
        self._load_query()

    @on(Input.Changed, "#vis-pin, #vis-file")
    def _load_query(self) -> None:
        """Show the query image (the pin's, or the file) for the crop box to be drawn on."""
        preview = self.query_one(CropPreview)
        text, by_pin = self._query_text(), self.by_pin
        dataset, store = self.workbench.dataset, self.workbench.store
        if not text:
            preview.set_problem("type a pin id" if by_pin else "type an image file's path")
            self._check_crop()
            return
        if by_pin and dataset is None:
            preview.set_problem("no dataset in use")
            return

        def load(_ctx: JobContext) -> tuple[tuple[int, int], Image.Image]:
            from PIL import Image, ImageOps

            from workbench.services import visual as svc

            path = svc.query_image(store, str(dataset), text) if by_pin else text
            path = os.path.expanduser(path)
            size = svc.image_size(path)
            with Image.open(path) as im:
                im.draft("RGB", (THUMBNAIL * 2, THUMBNAIL * 2))
                picture = ImageOps.exif_transpose(im).convert("RGB")
            picture.thumbnail((THUMBNAIL, THUMBNAIL))
            return size, picture

        def done(found: tuple[tuple[int, int], Image.Image]) -> None:
            size, picture = found
            name = text if by_pin else os.path.basename(text)
            preview.set_image(picture, size, f"{name} · {size[0]}×{size[1]} px")
            self._check_crop()

        def failed(error: WorkbenchError) -> None:
            preview.set_problem(str(error))
            self._check_crop()

        self.run_job(Job("visual.query", f"Reading {text}", load, done, on_error=failed,
                         show_progress=False))  # fmt: skip

    # -- the crop box -------------------------------------------------------------------------

    @on(Input.Changed, "#vis-crop")
    def _check_crop(self) -> str | None:
        """Check the typed crop box against the query image and draw it; the problem, if any."""
        preview = self.query_one(CropPreview)
        text = self.query_one("#vis-crop", Input).value
        problem = crop_problem(text, preview.image_size)
        self._show_crop_problem(problem)
        if problem is None:
            preview.set_box(parse_crop(text))
        return problem

    def _show_crop_problem(self, problem: str | None) -> None:
        hint = self.query_one("#vis-crop-hint", Static)
        size = self.query_one(CropPreview).image_size
        pixels = f"pixels of the {size[0]}×{size[1]} image" if size else "pixels"
        hint.update(problem or f"{pixels}; on the picture arrows move it, shift+arrows resize")
        hint.set_class(problem is not None, "-invalid")

    def action_edit_crop(self) -> None:
        """Focus the picture, where the keys move and resize the crop box."""
        self.query_one(CropPreview).focus()

    @on(CropPreview.BoxChanged)
    def _box_moved(self, event: CropPreview.BoxChanged) -> None:
        self.query_one("#vis-crop", Input).value = format_crop(event.box)

    # -- checking the form --------------------------------------------------------------------

    def _where(self) -> dict[str, str]:
        """The attribute filter; raises WorkbenchError naming what is wrong with it."""
        where = parse_where(self.query_one("#vis-where", Input).value)
        info = next((d for d in self.workbench.datasets if d.name == self.workbench.dataset), None)
        if info is not None:
            for key in where:
                if key not in info.pin_attributes:
                    known = ", ".join(info.pin_attributes) or "none"
                    raise ParseError(f"unknown pin attribute {key!r} (attributes: {known})")
        return where

    def _problems(self, *names: str) -> list[str]:
        """What is wrong with the fields ``k``, ``weight`` and ``where`` among ``names``."""
        problems = []
        for name in names:
            if name == "where":
                try:
                    self._where()
                except WorkbenchError as exc:
                    problems.append(str(exc))
                continue
            box = self.query_one(f"#vis-{name}", Input)
            result = box.validate(box.value)
            if result is not None and not result.is_valid:
                label = "top k" if name == "k" else "visual weight"
                problems.append(f"{label}: {'; '.join(result.failure_descriptions)}")
        return problems

    @on(Input.Changed, "#vis-k, #vis-where, #vis-weight")
    def _validate(self) -> None:
        self.query_one("#vis-error", Label).update(
            "\n".join(self._problems("k", "where", "weight"))
        )

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "vis-weight":
            self.action_fuse()
        else:
            self.action_search()

    # -- search -------------------------------------------------------------------------------

    @on(Button.Pressed, "#vis-search")
    def action_search(self) -> None:
        from workbench.services import visual as svc

        error = self.query_one("#vis-error", Label)
        dataset, store = self.workbench.dataset, self.workbench.store
        by_pin, text = self.by_pin, self._query_text()
        problems = self._problems("k", "where")
        crop_text = self.query_one("#vis-crop", Input).value
        if crop_wrong := self._check_crop():
            problems.append(crop_wrong)
        if dataset is None:
            problems.append("no dataset in use: choose one on the Datasets screen")
        if not text:
            problems.append("give a pin id" if by_pin else "give an image file")
        if problems:
            error.update("\n".join(problems))
            return
        assert dataset is not None
        crop = parse_crop(crop_text)
        k = int(self.query_one("#vis-k", Input).value)
        embedding_value = self.query_one("#vis-embedding", Select).value
        embedding = embedding_value if isinstance(embedding_value, str) else svc.BUILTIN
        image = None if by_pin else os.path.expanduser(text)
        request = svc.SearchRequest(
            dataset, pin=text if by_pin else None, image=image, crop=crop, k=k,
            embedding=embedding, where=self._where(),
            exclude_duplicates=self.query_one("#vis-dedup", Checkbox).value,
        )  # fmt: skip
        where = request.where

        def run(ctx: JobContext) -> svc.Ranking:
            return svc.search(store, request, ctx.reporter)

        def done(result: svc.Ranking) -> None:
            if self.workbench.dataset != dataset:  # switched meanwhile: not this one's
                return
            pins = result.pins.to_dicts()
            self.visual_run = self.shown_run = result.run_id
            self.query_pin = text if by_pin else None
            like = text if by_pin else os.path.basename(text)
            title = f"Run {result.run_id}: {len(result.results)} pins like {like}"
            title += f", crop {format_crop(crop)}" if crop else ""
            title += "".join(f", {k}={v}" for k, v in where.items())
            if dropped := result.info.get("excluded_duplicates"):
                title += f" · {dropped} near-duplicates left out"
            title += "".join(f" · {note}" for note in result.notes)
            self.query_one(RankedPins).show(
                result.results.select("rank", "pin", "score").rows(), pins, title,
                run_id=result.run_id,
            )  # fmt: skip
            self._pick_walk()

        error.update("")
        self._search_after_index = False
        self.run_job(Job("visual.search", f"Searching like {text}", run, done,
                         on_error=lambda e: self._search_failed(e, embedding)))  # fmt: skip

    def _search_failed(self, error: WorkbenchError, embedding: str) -> None:
        from workbench.services import visual as svc

        label = self.query_one("#vis-error", Label)
        if error.hint == "index" and embedding == svc.BUILTIN:  # the one this screen builds
            key = self.workbench.key_for("visual.index", "ctrl+o")
            self._search_after_index = True
            label.update(
                f"{error}: press {key} (Index images) to index the images; the search runs "
                "when it is done"
            )
            self.query_one("#vis-index", Button).focus()
            return
        label.update(str(error))

    # -- index --------------------------------------------------------------------------------

    @on(Button.Pressed, "#vis-index")
    def action_index(self) -> None:
        error = self.query_one("#vis-error", Label)
        dataset, store = self.workbench.dataset, self.workbench.store
        if dataset is None:
            error.update("no dataset in use: choose one on the Datasets screen")
            return

        def run(ctx: JobContext) -> svc.IndexResult:
            from workbench.services import visual as svc

            return svc.index(store, svc.IndexRequest(dataset), ctx.reporter)

        def done(report: svc.IndexResult) -> None:
            self.notify(report.summary, title=f"Indexed {dataset}", markup=False)
            if report.failed:
                shown = "; ".join(f"{pin}: {why}" for pin, why in report.failed[:3])
                more = f" and {len(report.failed) - 3} more" if len(report.failed) > 3 else ""
                self.notify(f"{len(report.failed)} images could not be read: {shown}{more}",
                            severity="warning", timeout=10, markup=False)  # fmt: skip
            self._load_embeddings()
            if self._search_after_index:
                self.action_search()

        error.update("")
        self.run_job(Job("visual.index", f"Indexing the images of {dataset}", run, done,
                         on_error=lambda e: error.update(str(e))))  # fmt: skip

    # -- fusion and comparison ----------------------------------------------------------------

    def _walk_run(self) -> int | None:
        value = self.query_one("#vis-walk", Select).value
        return value if isinstance(value, int) else None

    @on(Button.Pressed, "#vis-fuse-go")
    def action_fuse(self) -> None:
        from workbench.services import visual as svc

        error = self.query_one("#vis-error", Label)
        dataset, store = self.workbench.dataset, self.workbench.store
        visual, walk = self.visual_run, self._walk_run()
        problems = self._problems("k", "weight")
        if visual is None:
            problems.append("search first: fusion combines the visual ranking with a walk ranking")
        if walk is None:
            problems.append("choose a walk run (make one on 3 Recommend)")
        if problems or dataset is None:
            error.update("\n".join(problems))
            return
        assert visual is not None and walk is not None
        method = str(self.query_one("#vis-method", Select).value)
        weight = float(self.query_one("#vis-weight", Input).value)
        k = int(self.query_one("#vis-k", Input).value)

        request = svc.FuseRequest((visual, walk), method,
                                  None if weight == 1 else (weight, 1.0), k)  # fmt: skip

        def run(ctx: JobContext) -> svc.Ranking:
            return svc.fuse(store, request, ctx.reporter)

        def done(result: svc.Ranking) -> None:
            if self.workbench.dataset != dataset:  # switched meanwhile: not this one's
                return
            pins = result.pins.to_dicts()
            self.shown_run = result.run_id
            source = self.walk_runs.get(walk)
            name = source.name or source.algorithm if source else "walk"
            weighted = f" (visual weight {weight:g})" if weight != 1 else ""
            self.query_one(RankedPins).show(
                result.results.select("rank", "pin", "score").rows(),
                pins,
                f"Run {result.run_id}: {method} fusion of visual run {visual} and "
                f"{name} run {walk}{weighted}",
                run_id=result.run_id,
            )

        error.update("")
        self.run_job(Job("visual.fuse", f"Fusing runs {visual} and {walk}", run, done,
                         on_error=lambda e: error.update(str(e))))  # fmt: skip

    def action_compare(self) -> None:
        """Send the ranking on screen (the search, or its fusion) and the walk run to Compare,
        which pairs rankings by query (two single rankings are compared as they are)."""
        visual, walk, store = self.shown_run, self._walk_run(), self.workbench.store
        if visual is None:
            self.notify(
                "search first, then compare its ranking with a walk run", severity="warning"
            )
            return
        if walk is None:
            self.notify("choose a walk run to compare the visual ranking with", severity="warning")
            return

        def run(_ctx: JobContext) -> list[list[str]]:
            from workbench.services import visual as svc

            return svc.shared_queries(store, (visual, walk))

        def done(queries: list[list[str]]) -> None:
            single = len(queries[0]) == 1 and len(queries[1]) == 1
            if single or set(queries[0]) & set(queries[1]):
                self.workbench.compare([visual, walk])
                return
            self.notify(
                f"Compare pairs rankings by query: run {visual} ranks "
                f"{', '.join(queries[0])!r}, walk run {walk} ranks {', '.join(queries[1])!r}. "
                "A search of the walk's pin (whole image) can be compared with it.",
                title="Nothing to compare",
                severity="warning",
                timeout=10,
                markup=False,
            )

        self.run_job(Job("visual.compare", "Reading queries", run, done, show_progress=False))
