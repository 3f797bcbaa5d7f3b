import type { ExternalMessages } from './external.zh-CN'

const externalEn: ExternalMessages = {
  nav: 'External systems',
  intro:
    'External systems (the 12345 hotline, city operation platforms, IoT sensors, Open311 clients) report and read ' +
    'cases through the Open311 API with an API key, receive case changes by webhook, and may push device events ' +
    'that the rules turn into cases.',
  create: 'New external system',
  editOf: 'Edit: {title}',
  details: 'Endpoints and deliveries',
  detailsOf: '{title}: endpoints and deliveries',
  created: 'External system {title} created',
  saved: 'Saved',
  activated: '{title} enabled',
  deactivated: '{title} disabled',
  never: 'Never',
  none: 'None',
  fillRequired: 'Fill in the name, title, channel and territory',
  currentUnit: 'Current territory: {name} ({code})',
  fields: {
    name: 'Name',
    title: 'Title',
    channel: 'Case channel',
    unit: 'Territory',
    keyPrefix: 'API key prefix',
    rateLimit: 'Rate limit',
    webhookUrl: 'Webhook URL',
    webhookEvents: 'Webhook events',
    rules: 'Ingest rules',
    active: 'Active',
    lastUsed: 'Last used',
  },
  hints: {
    name: 'Lower-case letters, digits, - and _, 2–32 characters; fixed once created, part of the ingest URL',
    channel: 'The channel of the cases this system reports (lower-case letters, digits, - and _)',
    unit: 'The system reports and reads cases in this territory only',
    rateLimit: 'requests per minute',
    webhookUrl: 'An http:// or https:// URL; empty for no webhook',
  },
  events: {
    created: 'Case created (case.created)',
    stateChanged: 'Case state changed (case.state_changed)',
  },
  ops: {
    eq: 'equals',
    prefix: 'starts with',
    contains: 'contains',
    gte: 'at least (number)',
    lte: 'at most (number)',
  },
  rules: {
    intro:
      'An incoming device event is tested against the rules in order: the first rule that matches decides the ' +
      "case's category and urgency; if none matches, the case has no category and the command centre classifies it.",
    firstMatch: 'Tested in order; the first match wins',
    field: 'Event field',
    fieldPlaceholder: 'e.g. type or data.level',
    op: 'Test',
    value: 'Value',
    category: 'Category',
    categoryPlaceholder: 'Choose a leaf category',
    urgent: 'Urgent',
    add: 'Add rule',
    remove: 'Remove',
    up: 'Move up',
    down: 'Move down',
    empty: 'No rules',
  },
  secrets: {
    titleOf: 'Save the secrets now: {title}',
    once: 'These secrets are shown this once and never again; if lost, they can only be regenerated.',
    api_key: 'API key',
    webhook_secret: 'Webhook signing secret',
    ingest_secret: 'Ingest signing secret',
    close: 'I have saved them',
  },
  rotate: {
    title: 'Secrets',
    buttons: {
      api_key: 'Regenerate the API key',
      webhook_secret: 'Regenerate the webhook secret',
      ingest_secret: 'Regenerate the ingest secret',
    },
    names: {
      api_key: 'API key',
      webhook_secret: 'webhook signing secret',
      ingest_secret: 'ingest signing secret',
    },
    confirm:
      'Once the {name} is regenerated the old one stops working at once; the external system must be updated at ' +
      'the same time. Regenerate it?',
    confirmButton: 'Regenerate',
  },
  deliveries: {
    title: 'Webhook deliveries',
    deadOnly: 'Dead letters only',
    event: 'Event',
    case: 'Case number',
    createdAt: 'Created',
    attempts: 'Attempts',
    lastError: 'Last error',
    state: 'State',
    delivered: 'Delivered',
    waiting: 'Waiting',
    dead: 'Dead',
    resend: 'Resend',
    resent: 'Queued again; it will be sent shortly',
    empty: 'No deliveries',
    noWebhook: 'This system has no webhook URL: case changes are not pushed to it.',
  },
  endpoints: {
    title: 'How to connect',
    open311: 'Open311 GeoReport v2 API',
    open311Hint: 'Send the API key as the parameter api_key',
    ingest: 'Ingest URL (POST JSON)',
    signing: 'Signature',
    signingText:
      'Ingest requests and webhook deliveries carry the two headers below: the timestamp (Unix seconds) and the ' +
      'signature, the hex HMAC-SHA256 of timestamp + "." + raw body with the secret. Ingest requests are signed ' +
      'with the ingest signing secret, webhook deliveries with the webhook signing secret; ingest requests whose ' +
      "timestamp is too far from the server's time (by default 5 minutes) are refused.",
  },
}

export default externalEn
