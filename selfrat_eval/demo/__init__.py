"""Offline end-to-end demo: bundled synthetic judging data, the SFT -> self-rationalization
pipeline with its baselines, and the HTML/JSON report. Heavy imports stay inside functions."""
