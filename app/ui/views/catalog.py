"""Catalog: browse and search logical tables (with their lineage graph); register from JSON/YAML, infer from files,
reflect a database."""

import json

import pandas as pd
import streamlit as st
import yaml

from app.security.policy import AccessDenied
from app.ui import state
from app.workflow import access
from catalog.errors import CatalogError

st.title("Catalog")
catalog = state.catalog()


def _register(specs: list) -> None:
    try:
        access.register_tables(catalog, state.me(), specs)
    except AccessDenied as err:
        st.error(str(err))
        return
    state.catalog_changed()
    st.success("Registered " + ", ".join(s.name for s in specs))


if state.can("register"):
    browse, register, infer, reflect = st.tabs(["Browse", "Register JSON/YAML", "Infer from files",
                                                "Reflect a database"])
else:  # viewers and operators browse; defining tables is for roles that write
    (browse,), register, infer, reflect = st.tabs(["Browse"]), None, None, None

with browse:
    search = st.text_input("Search names, descriptions and columns", key="cat_search", placeholder="user_id")
    found = catalog.list_tables(search=search or None)
    if not found:
        st.caption("No table matches." if search else "The catalog is empty: run `formcast demo` or register tables.")
    else:
        st.dataframe(pd.DataFrame([{
            "table": t.name, "columns": len(t.columns), "partitions": ", ".join(t.partition_by),
            "event time": t.event_time.column if t.event_time else "", "description": t.description,
        } for t in found]), width="stretch", hide_index=True)
        names = [t.name for t in found]
        chosen = st.selectbox("Table", names, key="cat_table")
        spec = next(t for t in found if t.name == chosen)
        st.markdown(f"### {spec.name}")
        if spec.description:
            st.write(spec.description)
        facts = [f"owner: {spec.owner or '—'}", f"primary key: {', '.join(spec.primary_key) or '—'}",
                 f"partitions: {', '.join(spec.partition_by) or '—'}"]
        if spec.event_time:
            facts.append(f"event time: {spec.event_time.column} (watermark {spec.event_time.watermark_delay})")
        st.caption(" · ".join(facts))
        st.dataframe(pd.DataFrame([{"column": c.name, "type": c.type, "nullable": c.nullable,
                                    "description": c.description} for c in spec.columns]),
                     width="stretch", hide_index=True)
        rows = []
        for engine, envs in spec.bindings.items():
            for env, binding in envs.items():
                detail = binding.model_dump(exclude={"kind"}, exclude_defaults=True)
                rows.append({"engine": engine, "env": env, "kind": binding.kind, "where": json.dumps(detail)})
        st.markdown("**Bindings**")
        st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True)
        st.markdown("**Lineage** · what this table derives from and what derives from it (stored task lineage)")
        from app.ui import lineage_view

        lineage_view.render(catalog.lineage_graph(), spec.name, key="cat_lineage",
                            columns=[c.name for c in spec.columns],
                            empty_hint="Deployed tasks store their lineage; so does `formcast lineage --index DIR`.")

if register is not None:
    with register:
        upload = st.file_uploader("Table definitions (.json, .yaml)", type=["json", "yaml", "yml"], key="cat_upload")
        if upload is not None and st.button("Register", key="cat_register"):
            from catalog.loader import parse_table_specs

            try:
                _register(parse_table_specs(yaml.safe_load(upload.getvalue().decode("utf-8")), upload.name))
            except (CatalogError, yaml.YAMLError) as err:
                st.error(str(err))

if infer is not None:
    with infer:
        path = st.text_input("Path to a parquet/csv/json file or folder", key="cat_infer_path")
        name = st.text_input("Logical name (namespace.table)", key="cat_infer_name")
        fmt = st.selectbox("Format", ["(detect)", "parquet", "csv", "json"], key="cat_infer_format")
        if st.button("Infer", key="cat_infer", disabled=not (path and name)):
            from catalog.infer import infer_table

            try:
                st.session_state["cat_inferred"] = infer_table(path, name, format=None if fmt == "(detect)" else fmt)
            except CatalogError as err:
                st.error(str(err))
        inferred = st.session_state.get("cat_inferred")
        if inferred is not None:
            st.json(inferred.model_dump(mode="json", exclude_defaults=True), expanded=False)
            if st.button(f"Register {inferred.name}", key="cat_infer_register"):
                _register([inferred])
                st.session_state.pop("cat_inferred", None)

if reflect is not None:
    with reflect:
        url = st.text_input("Database URL", key="cat_reflect_url", placeholder="postgresql+psycopg://me@db/shop")
        schema = st.text_input("Schema (optional)", key="cat_reflect_schema")
        namespace = st.text_input("Namespace (optional)", key="cat_reflect_ns")
        if st.button("Reflect", key="cat_reflect", disabled=not url):
            from catalog.reflect import reflect_database

            warnings: list[str] = []
            try:
                st.session_state["cat_reflected"] = reflect_database(url, schema=schema or None,
                                                                     namespace=namespace or None, warnings=warnings)
                for w in warnings:
                    st.warning(w)
            except CatalogError as err:
                st.error(str(err))
        reflected = st.session_state.get("cat_reflected")
        if reflected:
            st.write(", ".join(f"`{s.name}` ({len(s.columns)} columns)" for s in reflected))
            if st.button(f"Register {len(reflected)} table(s)", key="cat_reflect_register"):
                _register(reflected)
                st.session_state.pop("cat_reflected", None)
