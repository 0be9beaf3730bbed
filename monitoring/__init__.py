"""Generators of the monitoring bundle: Grafana dashboards, Prometheus rules, runbooks.

Everything is built from ``llm_exporter.catalog`` and the one config ``bundle.yml``;
run ``python -m monitoring.generate`` to rewrite ``dashboards/`` and ``alerts/``.
"""
