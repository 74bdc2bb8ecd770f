"""The page's CSS: pixel-exact videos, the lines about the page's state, the live frames, and the phone
order (image, Preview, the video, then the sliders)."""

from ._live import LIVE_CSS

PHONE = "max-width: 720px"  # below this Gradio stacks the columns; the page reorders them

CSS = LIVE_CSS + f"""
.pixel-video video {{ image-rendering: pixelated; max-height: 58vh; object-fit: contain; }}
#contact-sheet img {{ image-rendering: pixelated; }}
#title p {{ font-size: 1.1em; margin: 0; }}
#model-badge p, #cost p, #message p, #showing p, #stale-note p {{ margin: 0; }}
#cost p {{ opacity: 0.8; }}
#stale-note p {{ color: #b45309; }}
#message p {{ font-weight: 600; }}
#patch-summary table {{ display: block; overflow-x: auto; }}
#patch-summary th, #patch-summary td {{ white-space: nowrap; word-break: keep-all; }}
#downloads td.filename, #comfy-files td.filename, #downloads .stem, #comfy-files .stem {{
  overflow: visible; text-overflow: clip; }}
@media ({PHONE}) {{
  #compare-row {{ flex-direction: column; flex-wrap: nowrap; }}
  #controls-col, #results-col {{ display: contents; }}
  #input-image {{ order: 1; }}
  #run-row {{ order: 2; }}
  #cost, #message {{ order: 3; }}
  #showing, #stale-note, #live-preview {{ order: 4; }}
  #result-tabs {{ order: 5; }}
  #sliders {{ order: 6; }}
  #patch-summary {{ order: 7; }}
  #result-files {{ order: 8; }}
  #preset-row {{ flex-direction: column; align-items: stretch; }}
  /* the tensor table in three columns that fit: the parameter counts are in the sentence below it */
  #patch-summary th:nth-child(4), #patch-summary td:nth-child(4) {{ display: none; }}
  #patch-summary th, #patch-summary td {{ padding: 4px 6px; font-size: 0.9em; }}
}}
"""
