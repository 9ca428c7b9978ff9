"""The request DTOs of §4, as :class:`~recotap_sandbox.validation.Field` schemas."""

from __future__ import annotations

from recotap_sandbox.validation import Field

S = Field("string")
REQUIRED_S = Field("string", required=True)
LABEL_TYPES = (
    "singleLineText",
    "multiLineText",
    "singleSelection",
    "multiSelection",
    "number",
    "date",
)
SELECTION_TYPES = ("singleSelection", "multiSelection")

# §4.2 (newer generation): 1-100 accounts, domain and name required.
ACCOUNT = {
    "domain": REQUIRED_S,
    "name": REQUIRED_S,
    "externalId": S,
    "shortName": S,
    "linkedinUrl": S,
    "tags": Field("strings"),
    "customFields": Field("object"),
}
POST_ACCOUNTS = {
    "accounts": Field("array", required=True, schema=ACCOUNT, min_items=1, max_items=100),
    "segmentId": S,
    "upsert": Field("bool"),
}

# §4.3: only customFields may be sent.
PUT_ACCOUNT = {"customFields": Field("object")}

# §4.5: 1-100 mappings.
MAPPING = {"domain": REQUIRED_S, "externalId": REQUIRED_S}
PATCH_EXTERNAL_IDS = {
    "mappings": Field("array", required=True, schema=MAPPING, min_items=1, max_items=100),
}

# §4.7: options are checked separately, they are only required for the selection types.
POST_CUSTOM_FIELD = {
    "label": REQUIRED_S,
    "labelType": Field("enum", required=True, choices=LABEL_TYPES),
    "description": S,
    "options": Field("strings"),
}

# §4.9 and §5.2: startDate/closedDate ISO-8601, ownerEmail an e-mail.
ASSOCIATED_ACCOUNT = {"externalId": S, "domain": S, "name": S}
DEAL = {
    "externalDealId": REQUIRED_S,
    "name": REQUIRED_S,
    "amount": Field("number"),
    "stageId": S,
    "stageLabel": S,
    "pipelineId": S,
    "pipelineLabel": S,
    "startDate": Field("iso"),
    "closedDate": Field("iso"),
    "ownerName": S,
    "ownerEmail": Field("email"),
    "ownerId": S,
    "dealCurrencyCode": S,
    "associatedAccounts": Field("array", schema=ASSOCIATED_ACCOUNT),
}
POST_DEALS = {"deals": Field("array", required=True, schema=DEAL, min_items=1, max_items=100)}

# §4.10: 1-20 pipelines, each with >= 1 stage.
STAGE = {"stageId": REQUIRED_S, "stageLabel": REQUIRED_S}
PIPELINE = {
    "pipelineId": REQUIRED_S,
    "pipelineLabel": REQUIRED_S,
    "stages": Field("array", required=True, schema=STAGE, min_items=1),
}
POST_DEAL_STAGES = {
    "pipelines": Field("array", required=True, schema=PIPELINE, min_items=1, max_items=20),
}

# §4.11 and §5.2: occurredAt, domain, ownerEmail, contacts (>= 1) and direction are checked.
CONTACT = {
    "email": Field("email", required=True),
    "externalContactId": S,
    "name": S,
    "title": S,
    "department": S,
    "seniority": S,
    "phone": S,
    "linkedinUrl": S,
}
ACTIVITY = {
    "externalActivityId": REQUIRED_S,
    "activityType": REQUIRED_S,
    "occurredAt": Field("iso", required=True),
    "domain": REQUIRED_S,
    "ownerEmail": Field("email", required=True),
    "contacts": Field("array", required=True, schema=CONTACT, min_items=1),
    "accountName": S,
    "subject": S,
    "ownerName": S,
    "ownerId": S,
    "from": Field("nested", schema={"name": S, "email": Field("email")}),
    "callTitle": S,
    "durationMinutes": Field("number"),
    "outcome": S,
    "direction": Field("enum", choices=("inbound", "outbound")),
    "openCount": Field("number"),
    "clickCount": Field("number"),
}
POST_ACTIVITIES = {
    "activities": Field("array", required=True, schema=ACTIVITY, min_items=1, max_items=50),
}
