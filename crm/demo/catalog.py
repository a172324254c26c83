"""The demo business: Bicicletas Rivera, a bike shop with a workshop in Valencia.

Catalog content is the business's own data (written by its admin, in Spanish),
not interface text, so it is not translated.
"""

# The shop's opening hours: split shifts on weekdays, Saturday mornings, Valencian holidays.
CALENDAR = {
    "name": "Horario de la tienda",
    "timezone": "Europe/Madrid",
    "hours": {str(day): [["09:30", "14:00"], ["16:30", "20:00"]] for day in range(5)} | {"5": [["10:00", "14:00"]]},
    "country": "ES",
    "subdivision": "VC",
    "closures": ["2026-12-24", "2026-12-31"],
    "is_default": True,
}

TEAMS = [
    {"name": "Atención al cliente", "kind": "internal", "description": "Teléfono, correo y reseñas."},
    {"name": "Ventas", "kind": "internal", "description": "Tienda de la calle Cirilo Amorós."},
    {"name": "Taller", "kind": "internal", "description": "Reparaciones y revisiones."},
    {"name": "Envíos Levante", "kind": "partner",
     "description": "Mensajería que entrega las bicicletas a domicilio en la provincia."},
    {"name": "Financiera Turia", "kind": "partner", "description": "Financiación de compras a plazos."},
]

STAFF = [
    # (email, name, role, team)
    ("admin@demo.local", "Lucía Rivera", "admin", "Ventas"),
    ("supervisor@demo.local", "Javier Martín", "supervisor", "Atención al cliente"),
    ("agent@demo.local", "Carmen López", "agent", "Atención al cliente"),
    ("pablo@demo.local", "Pablo Sanchis", "agent", "Taller"),
    ("marta@demo.local", "Marta Ferrer", "agent", "Ventas"),
    ("andres@demo.local", "Andrés Navarro", "agent", "Atención al cliente"),
]


def _levels(basic, standard, premium):
    """(first response, resolution) hours per tier; None where nothing is promised."""
    return [
        {"tier": tier, "first_response_hours": pair[0], "resolution_hours": pair[1]}
        for tier, pair in (("basic", basic), ("standard", standard), ("premium", premium))
    ]


MOMENT_TYPES = [
    {
        "code": "consulta-tienda", "name": "Consulta en tienda", "phase": "discover", "channel": "in_person",
        "team": "Ventas", "owner_role": "agent", "cost": "6.00",
        "objective": "Que el visitante salga con una recomendación clara y vuelva.",
        "objective_metric": "emotion", "objective_target": "1",
        "process": "Acoger, preguntar por el uso, enseñar dos o tres modelos, ofrecer prueba.",
        "participants": [{"who": "Dependiente de tienda", "does": "atiende y asesora"}],
        "physical_evidence": "Escaparate, tienda ordenada, etiquetas de precio claras",
        "customer_action": "Entra, mira, pregunta",
        "frontstage_action": "Saludo en menos de un minuto; preguntas sobre el uso",
        "backstage_action": "Consulta de stock en el sistema",
        "support_process": "Inventario y catálogo de proveedores",
        "levels": [],
    },
    {
        "code": "formulario-web", "name": "Solicitud de información web", "phase": "discover", "channel": "web",
        "team": "Atención al cliente", "owner_role": "agent", "cost": "3.50",
        "objective": "Responder rápido para convertir la curiosidad en visita.",
        "objective_metric": "sla", "objective_target": "90",
        "process": "Leer la solicitud, responder por correo o teléfono, proponer cita.",
        "participants": [{"who": "Atención al cliente", "does": "responde la solicitud"}],
        "physical_evidence": "Formulario de la web y correo de acuse",
        "customer_action": "Rellena el formulario",
        "frontstage_action": "Respuesta personalizada",
        "backstage_action": "Registro del contacto en el CRM",
        "support_process": "Web y buzón compartido",
        "levels": _levels((8, 72), (4, 48), (2, 24)),
    },
    {
        "code": "presupuesto", "name": "Presupuesto de bicicleta a medida", "phase": "evaluate", "channel": "email",
        "team": "Ventas", "owner_role": "agent", "cost": "12.00",
        "objective": "Presupuesto claro y a tiempo; tasa de aceptación ≥ 40%.",
        "process": "Tomar medidas, elegir componentes, enviar presupuesto con plazo de entrega.",
        "participants": [{"who": "Ventas", "does": "prepara el presupuesto"},
                         {"who": "Financiera Turia", "does": "ofrece financiación"}],
        "physical_evidence": "PDF del presupuesto",
        "customer_action": "Pide presupuesto y compara",
        "frontstage_action": "Envío y explicación del presupuesto",
        "backstage_action": "Consulta de precios a proveedores",
        "support_process": "Tarifas de proveedores, financiación",
        "levels": _levels((24, 96), (8, 72), (4, 48)),
    },
    {
        "code": "prueba", "name": "Prueba de bicicleta", "phase": "evaluate", "channel": "in_person",
        "team": "Ventas", "owner_role": "agent", "cost": "15.00",
        "objective": "Que la prueba resuelva las dudas de talla y uso.",
        "objective_metric": "emotion", "objective_target": "1",
        "process": "Ajustar sillín, casco de préstamo, recorrido de 20 minutos.",
        "participants": [{"who": "Dependiente de tienda", "does": "ajusta y acompaña"}],
        "physical_evidence": "Bicicleta de prueba limpia y ajustada",
        "customer_action": "Prueba la bicicleta",
        "frontstage_action": "Ajuste y consejos",
        "backstage_action": "Preparación de la flota de prueba",
        "support_process": "Mantenimiento de la flota",
        "levels": [],
    },
    {
        "code": "entrega", "name": "Entrega a domicilio", "phase": "interact", "channel": "partner",
        "team": "Envíos Levante", "owner_role": "agent", "cost": "9.90",
        "objective": "Entrega en la franja acordada, bicicleta montada.",
        "objective_metric": "sla", "objective_target": "95",
        "process": "Preparar y embalar, entregar a Envíos Levante, confirmar la franja con el cliente.",
        "participants": [{"who": "Envíos Levante", "does": "transporta y entrega"},
                         {"who": "Taller", "does": "monta y revisa antes del envío"}],
        "physical_evidence": "Embalaje, albarán, furgoneta rotulada",
        "customer_action": "Recibe y firma",
        "frontstage_action": "Repartidor entrega y explica el montaje final",
        "backstage_action": "Montaje, embalaje y reserva de franja",
        "support_process": "Sistema de seguimiento de Envíos Levante",
        "levels": _levels((None, 72), (None, 48), (None, 24)),
    },
    {
        "code": "reparacion", "name": "Reparación en taller", "phase": "interact", "channel": "in_person",
        "team": "Taller", "owner_role": "agent", "cost": "25.00",
        "objective": "Reparación bien hecha a la primera y en plazo.",
        "objective_metric": "csat", "objective_target": "85",
        "process": "Diagnóstico, presupuesto, reparación, prueba, aviso de recogida.",
        "participants": [{"who": "Mecánico", "does": "diagnostica y repara"}],
        "physical_evidence": "Resguardo de entrada, taller visible",
        "customer_action": "Deja la bicicleta y la recoge",
        "frontstage_action": "Diagnóstico explicado y aviso de recogida",
        "backstage_action": "Pedido de piezas y reparación",
        "support_process": "Stock de recambios",
        "levels": _levels((8, 120), (4, 72), (2, 48)),
    },
    {
        "code": "reclamacion", "name": "Reclamación", "phase": "interact", "channel": "phone",
        "team": "Atención al cliente", "owner_role": "supervisor", "cost": "18.00",
        "objective": "Resolver en el primer o segundo contacto (≥ 90%).",
        "objective_metric": "fcr_second", "objective_target": "90",
        "process": "Escuchar, registrar, proponer solución, confirmar con el cliente.",
        "participants": [{"who": "Atención al cliente", "does": "recoge y resuelve"},
                         {"who": "Supervisor", "does": "aprueba compensaciones"}],
        "physical_evidence": "Correo de confirmación con número de incidencia",
        "customer_action": "Llama o escribe con una queja",
        "frontstage_action": "Escucha activa y propuesta de solución",
        "backstage_action": "Revisión del caso con taller o mensajería",
        "support_process": "Política de compensaciones",
        "levels": _levels((4, 72), (2, 48), (1, 24)),
    },
    {
        "code": "revision-anual", "name": "Revisión anual de mantenimiento", "phase": "retain", "channel": "phone",
        "team": "Taller", "owner_role": "agent", "cost": "8.00",
        "objective": "Que cada cliente con plan haga su revisión anual.",
        "process": "Llamar un mes antes, dar cita, hacer la revisión.",
        "participants": [{"who": "Taller", "does": "revisa la bicicleta"}],
        "physical_evidence": "Tarjeta de mantenimiento sellada",
        "customer_action": "Pide cita y trae la bicicleta",
        "frontstage_action": "Llamada de recordatorio",
        "backstage_action": "Planificación de citas del taller",
        "support_process": "Agenda del taller",
        "levels": _levels((48, 168), (24, 120), (8, 72)),
    },
    {
        "code": "renovacion", "name": "Renovación del plan de mantenimiento", "phase": "retain", "channel": "email",
        "team": "Atención al cliente", "owner_role": "agent", "cost": "4.00",
        "objective": "Renovación ≥ 70% de los planes que vencen.",
        "objective_metric": "emotion", "objective_target": "0.5",
        "process": "Aviso un mes antes, resolver dudas, renovar.",
        "participants": [{"who": "Atención al cliente", "does": "gestiona la renovación"},
                         {"who": "Financiera Turia", "does": "cobra la cuota"}],
        "physical_evidence": "Correo de renovación y factura",
        "customer_action": "Renueva o pregunta",
        "frontstage_action": "Respuesta a dudas",
        "backstage_action": "Cobro y actualización del plan",
        "support_process": "Facturación",
        "levels": _levels((48, 120), (24, 72), (8, 48)),
    },
    {
        "code": "recomendacion", "name": "Recomendación de un cliente", "phase": "refer", "channel": "social",
        "team": "Ventas", "owner_role": "agent", "cost": "2.00",
        "objective": "Agradecer cada recomendación en 48 horas.",
        "process": "Registrar quién recomienda a quién y agradecerlo.",
        "participants": [{"who": "Ventas", "does": "agradece y registra"}],
        "physical_evidence": "Mensaje de agradecimiento y cupón",
        "customer_action": "Recomienda la tienda a un amigo",
        "frontstage_action": "Agradecimiento personal",
        "backstage_action": "Alta del cupón",
        "support_process": "Programa de recomendaciones",
        "levels": _levels((72, None), (48, None), (24, None)),
    },
    {
        "code": "resena", "name": "Reseña en Google", "phase": "refer", "channel": "web",
        "team": "Atención al cliente", "owner_role": "agent", "cost": "1.50",
        "objective": "Responder a todas las reseñas; nota media ≥ 4,6.",
        "process": "Leer la reseña, responder en público, contactar si es negativa.",
        "participants": [{"who": "Atención al cliente", "does": "responde la reseña"}],
        "physical_evidence": "Ficha de Google con respuestas",
        "customer_action": "Escribe una reseña",
        "frontstage_action": "Respuesta pública",
        "backstage_action": "Seguimiento de reseñas negativas",
        "support_process": "Alertas de reseñas",
        "levels": _levels((48, None), (24, None), (12, None)),
    },
]

SEGMENTS = ["Particular", "Ciclista de carretera", "Familia", "Empresa (flota)", "Club ciclista"]

# What a note typically says, per moment type.
NOTES = {
    "consulta-tienda": ["Busca una bicicleta urbana para ir al trabajo.", "Pregunta por bicicletas eléctricas.",
                        "Quiere una bici infantil para su hija de 7 años.", "Compara gravel y carretera."],
    "formulario-web": ["Pide información sobre financiación.", "Pregunta plazos de entrega de una eléctrica.",
                       "Quiere saber si reparamos bicis compradas fuera."],
    "presupuesto": ["Presupuesto de carretera de carbono, talla 54.", "Presupuesto de flota de 6 bicis de reparto.",
                    "Presupuesto de montaje a medida con grupo 105."],
    "prueba": ["Probó dos tallas; la M le va mejor.", "Prueba de eléctrica de montaña, muy contento.",
               "No le convence la postura; volverá a probar otra."],
    "entrega": ["Entrega en la franja de tarde.", "El repartidor llegó con retraso.",
                "Entregada y montada sin incidencias.", "Caja dañada, la bici está bien."],
    "reparacion": ["Cambio de cadena y piñones.", "Pinchazo y revisión de frenos.",
                   "Rueda trasera descentrada; pedimos radios.", "Ajuste de cambio electrónico."],
    "reclamacion": ["La reparación no aguantó una semana.", "Cobro duplicado en la tarjeta.",
                    "El pedido no llegó en la fecha prometida.", "Ruido en el pedalier tras la revisión."],
    "revision-anual": ["Cita para la revisión anual.", "Revisión hecha; pastillas cambiadas.",
                       "No puede venir este mes; lo llamamos en dos semanas."],
    "renovacion": ["Renueva el plan de mantenimiento un año más.", "Pregunta si el plan cubre la eléctrica.",
                   "No renueva: se muda a Madrid."],
    "recomendacion": ["Nos recomendó a su compañero de trabajo.", "Trajo a dos amigos del club.",
                      "Comparte nuestra publicación en redes."],
    "resena": ["Reseña de 5 estrellas sobre el taller.", "Reseña de 2 estrellas por la espera.",
               "Reseña positiva de la entrega."],
}

# The mood a contact of each type usually leaves, as weights for emotions -2..2.
EMOTION_WEIGHTS = {
    "reclamacion": [30, 40, 20, 8, 2],
    "entrega": [5, 10, 25, 40, 20],
    "reparacion": [5, 10, 25, 40, 20],
    "resena": [8, 10, 12, 35, 35],
}
DEFAULT_EMOTION_WEIGHTS = [2, 6, 27, 45, 20]

# Which phases fit a customer in each stage.
STAGE_PHASES = {
    "prospect": ["discover", "evaluate"],
    "new": ["discover", "evaluate", "interact"],
    "active": ["interact", "retain", "interact"],
    "loyal": ["interact", "retain", "refer"],
    "promoter": ["refer", "retain", "interact"],
    "at_risk": ["interact", "interact", "retain"],
    "churned": ["interact", "retain"],
}
STAGE_LOYALTY = {
    "prospect": "occasional", "new": "occasional", "active": "regular", "loyal": "exclusive",
    "promoter": "promoter", "at_risk": "regular", "churned": "occasional",
}
# The usual road to each stage, for a believable stage history.
STAGE_PATHS = {
    "prospect": ["prospect"],
    "new": ["prospect", "new"],
    "active": ["prospect", "new", "active"],
    "loyal": ["prospect", "new", "active", "loyal"],
    "promoter": ["prospect", "new", "active", "loyal", "promoter"],
    "at_risk": ["prospect", "new", "active", "at_risk"],
    "churned": ["prospect", "new", "active", "at_risk", "churned"],
}
STAGE_REASONS = {
    "new": "Primera compra.",
    "active": "Compra con regularidad.",
    "loyal": "Solo nos compra a nosotros desde hace un año.",
    "promoter": "Nos recomienda a otros clientes.",
    "at_risk": "Reclamación sin resolver y menos visitas.",
    "churned": "Sin contacto ni compras en 180 días.",
}

# What a broken promise earns (code of the moment type, or None for any; tier or None for any).
COMPENSATION_POLICIES = [
    {"type": "reclamacion", "tier": None, "kind": "discount", "value": "10", "cost": "10", "requires_approval": True,
     "escalate_after": 2, "escalated_value": "25", "escalation_window_days": 90, "cap_value": "60"},
    {"type": "reclamacion", "tier": "premium", "kind": "credit", "value": "20", "requires_approval": True,
     "escalate_after": 2, "escalated_value": "40", "cap_value": "120"},
    {"type": "entrega", "tier": None, "kind": "free_service", "value": "9.90", "cost": "6.50",
     "requires_approval": False, "cap_value": "30"},
    {"type": "reparacion", "tier": None, "kind": "gift", "value": "15", "cost": "6", "requires_approval": True},
    {"type": None, "tier": None, "kind": "apology", "value": "0", "requires_approval": False},
]
GOODWILL_LIMITS = {"agent": "15", "supervisor": "60"}


# Follow-up emails, in both languages. Variables: see crm/followups/rules.py.
MESSAGE_TEMPLATES = [
    {
        "code": "encuesta-satisfaccion", "name": "Encuesta de satisfacción tras una reclamación",
        "kind": "marketing", "survey": "nps",
        "subject_es": "{{ first_name }}, ¿cómo lo hicimos?",
        "body_es": "Hola {{ first_name }}:\n\nGracias por tu paciencia con tu {{ moment_type|lower }} del "
                   "{{ moment_date }}. Nos ayudaría mucho saber cómo lo hicimos: son dos preguntas y menos "
                   "de un minuto.\n\n{{ survey_url }}\n\nUn saludo,\n{{ agent_name }}",
        "subject_en": "{{ first_name }}, how did we do?",
        "body_en": "Hello {{ first_name }},\n\nThank you for your patience with your {{ moment_type|lower }} of "
                   "{{ moment_date }}. It would help us a lot to know how we did: two questions, less than "
                   "a minute.\n\n{{ survey_url }}\n\nBest regards,\n{{ agent_name }}",
    },
    {
        "code": "recordatorio-renovacion", "name": "Recordatorio de renovación del plan de mantenimiento",
        "kind": "transactional", "survey": None,
        "subject_es": "Tu plan de mantenimiento se renueva el {{ renewal_date }}",
        "body_es": "Hola {{ first_name }}:\n\nTu plan de mantenimiento se renueva el {{ renewal_date }}. "
                   "No tienes que hacer nada; si quieres cambiar algo, responde a este correo o pásate por "
                   "la tienda.\n\n{{ company_name }}",
        "subject_en": "Your maintenance plan renews on {{ renewal_date }}",
        "body_en": "Hello {{ first_name }},\n\nYour maintenance plan renews on {{ renewal_date }}. There is "
                   "nothing you need to do; to change anything, reply to this email or drop by the "
                   "shop.\n\n{{ company_name }}",
    },
    {
        "code": "te-echamos-de-menos", "name": "Te echamos de menos (recuperación)",
        "kind": "marketing", "survey": None,
        "subject_es": "{{ first_name }}, te echamos de menos",
        "body_es": "Hola {{ first_name }}:\n\nHace {{ days_quiet }} días que no sabemos de ti. Si tu bici "
                   "necesita una puesta a punto, esta semana la revisión básica te sale a mitad de "
                   "precio.\n\n{{ agent_name }}\n{{ company_name }}",
        "subject_en": "{{ first_name }}, we miss you",
        "body_en": "Hello {{ first_name }},\n\nWe have not heard from you in {{ days_quiet }} days. If your "
                   "bike needs a tune-up, this week the basic service is half price.\n\n{{ agent_name }}\n"
                   "{{ company_name }}",
    },
    {
        "code": "aviso-compensacion", "name": "Aviso de compensación",
        "kind": "transactional", "survey": None,
        "subject_es": "Te debemos una: {{ compensation }}",
        "body_es": "Hola {{ first_name }}:\n\nNo cumplimos lo que te prometimos y lo sentimos. Como "
                   "compensación tienes: {{ compensation }}. Lo verás aplicado en tu próxima visita o "
                   "compra.\n\n{{ agent_name }}\n{{ company_name }}",
        "subject_en": "We owe you one: {{ compensation }}",
        "body_en": "Hello {{ first_name }},\n\nWe did not keep our promise, and we are sorry. As compensation "
                   "you have: {{ compensation }}. You will see it applied on your next visit or "
                   "purchase.\n\n{{ agent_name }}\n{{ company_name }}",
    },
]

FOLLOWUP_RULES = [
    {"name": "Encuesta al día siguiente de resolver una reclamación", "trigger": "after_moment",
     "template": "encuesta-satisfaccion", "type": "reclamacion", "outcome": "resolved", "days": 1},
    {"name": "Recordatorio un mes antes de la renovación", "trigger": "before_renewal",
     "template": "recordatorio-renovacion", "days": 30},
    {"name": "Recuperación tras 90 días sin contacto", "trigger": "inactivity",
     "template": "te-echamos-de-menos", "days": 90},
    {"name": "Aviso de compensación emitida", "trigger": "compensation_issued",
     "template": "aviso-compensacion", "days": 0},
]
