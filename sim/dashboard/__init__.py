"""The interactive dashboard (Mesa SolaraViz): controls, plots and the page (``make dashboard``)."""
