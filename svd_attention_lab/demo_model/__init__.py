"""How the embedded demo model is built, trained and evaluated; never imported by the app.

The weights live where the loader finds them (``engine.DEMO_MODEL_DIR``, ``weights/`` here); this package holds the
architecture (``architecture``), the generated training videos (``synthetic``) and the
``python -m svd_attention_lab.demo_model.build`` / ``.train`` / ``.evaluate`` commands.
"""
