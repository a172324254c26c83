"""The columns each kind of import reads, and the header names that find them.

Headers are the export's English snake_case names; Spanish and other natural names are
accepted too, compared without case, accents or punctuation (crm.imports.reading.header_key).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm.imports.reading import header_key

KINDS = ("customers", "purchases", "moments")

FIELDS = {
    "customers": ("name", "email", "phone", "company", "segment", "stage", "loyalty", "tier", "language",
                  "marketing_consent", "owner_email", "created_at", "renewal_date"),
    "purchases": ("customer_email", "customer_phone", "purchased_on", "amount", "currency", "description"),
    "moments": ("customer_email", "customer_phone", "moment_type", "occurred_at", "channel", "staff_email",
                "emotion", "outcome", "cost", "notes"),
}

ALIASES = {
    "name": ("nombre", "nombre_completo", "full_name", "cliente", "customer", "razon_social"),
    "email": ("correo", "correo_electronico", "e_mail", "mail", "email_address"),
    "phone": ("telefono", "tel", "movil", "celular", "phone_number", "telephone", "mobile"),
    "company": ("empresa", "compania", "organizacion", "organization"),
    "segment": ("segmento",),
    "stage": ("etapa", "fase_del_ciclo", "lifecycle_stage", "estado"),
    "loyalty": ("fidelidad", "lealtad", "loyalty_level", "nivel_de_fidelidad"),
    "tier": ("nivel", "nivel_de_servicio", "service_tier"),
    "language": ("idioma", "lengua", "lang"),
    "marketing_consent": ("consentimiento", "consentimiento_marketing", "acepta_marketing", "marketing"),
    "owner_email": ("responsable", "correo_responsable", "owner", "propietario", "gestor"),
    "created_at": ("alta", "fecha_alta", "fecha_de_alta", "creado", "created"),
    "renewal_date": ("renovacion", "fecha_renovacion", "fecha_de_renovacion"),
    "customer_email": ("email", "correo", "correo_cliente", "email_cliente", "correo_electronico", "e_mail"),
    "customer_phone": ("phone", "telefono", "telefono_cliente", "tel", "movil"),
    "purchased_on": ("fecha", "fecha_compra", "fecha_de_compra", "date", "day", "dia"),
    "amount": ("importe", "cantidad", "total", "precio", "monto", "value"),
    "currency": ("moneda", "divisa"),
    "description": ("descripcion", "concepto", "detalle", "producto"),
    "moment_type": ("tipo", "tipo_de_momento", "type", "momento", "codigo_tipo", "moment_type_code"),
    "occurred_at": ("fecha", "fecha_hora", "cuando", "date", "datetime", "at", "ocurrido"),
    "channel": ("canal",),
    "staff_email": ("empleado", "correo_empleado", "staff", "agente", "atendido_por"),
    "emotion": ("emocion",),
    "outcome": ("resultado",),
    "cost": ("coste", "costo"),
    "notes": ("notas", "observaciones", "comentarios", "comments"),
}

LABELS = {
    "name": _l("Name"), "email": _l("Email"), "phone": _l("Phone"), "company": _l("Company"),
    "segment": _l("Segment"), "stage": _l("Stage"), "loyalty": _l("Loyalty"), "tier": _l("Service tier"),
    "language": _l("Language"), "marketing_consent": _l("Marketing consent"), "owner_email": _l("Owner (email)"),
    "created_at": _l("Created"), "renewal_date": _l("Renewal date"),
    "customer_email": _l("Customer email"), "customer_phone": _l("Customer phone"),
    "purchased_on": _l("Date"), "amount": _l("Amount"), "currency": _l("Currency"),
    "description": _l("Description"), "moment_type": _l("Moment type (code)"), "occurred_at": _l("When"),
    "channel": _l("Channel"), "staff_email": _l("Staff member (email)"), "emotion": _l("Emotion"),
    "outcome": _l("Outcome"), "cost": _l("Cost"), "notes": _l("Notes"),
}
KIND_LABELS = {"customers": _l("Customers"), "purchases": _l("Purchases"), "moments": _l("Contacts (moments)")}


def guess_mapping(kind: str, header: list[str]) -> dict[int, str]:
    """Column index → field, from the header names; each field taken once, exact names first."""
    fields = FIELDS[kind]
    keys = [header_key(h) for h in header]
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, key in enumerate(keys):
        if key in fields and key not in taken:
            mapping[index] = key
            taken.add(key)
    for index, key in enumerate(keys):
        if index in mapping:
            continue
        for field in fields:
            if field not in taken and key in ALIASES.get(field, ()):
                mapping[index] = field
                taken.add(field)
                break
    return mapping
