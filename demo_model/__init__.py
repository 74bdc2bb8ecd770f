"""How the embedded demo model is built, trained and evaluated; never imported by the app.

The weights live where the loader finds them (``preview.DEMO_MODEL_DIR``); this package holds the
architecture (``architecture``), the generated training videos (``synthetic``) and the
``python -m demo_model.build`` / ``.train`` / ``.evaluate`` commands.
"""
