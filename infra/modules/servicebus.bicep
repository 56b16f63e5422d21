// Service Bus delivery (main.bicep eventsDelivery = 'serviceBus'; docs/scaling.md): a namespace and one
// session-enabled queue that Event Grid writes poolkeeper's events to, one session per Azure subscription, read by
// handlers/queue.py's session trigger. Deployed only in that mode; the role assignments on the queue are in
// servicebus-roles.bicep, deployed after the app because they need its identities.
//
// Property names and limits: azure-rest-api-specs, Microsoft.ServiceBus stable/2024-01-01 (namespace-preview.json,
// Queue.json: lockDuration at most 5 minutes, maxDeliveryCount default 10).
targetScope = 'resourceGroup'

@description('Region of the namespace.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Short unique suffix shared by the resource names.')
param resourceToken string

@description('Name of the session-enabled queue (the app setting POOLKEEPER_EVENTS_QUEUE).')
param queueName string

@description('Peek-lock (and session lock) duration. The Functions Service Bus extension renews the lock while a run lasts; this is how long a crashed worker keeps a subscription\'s session before another instance may take it. Service Bus allows at most PT5M.')
param lockDuration string = 'PT1M'

@description('Deliveries of a message to the function before Service Bus dead-letters it (queue/$DeadLetterQueue).')
@minValue(1)
@maxValue(100)
param maxDeliveryCount int = 10

@description('How long an undelivered event stays in the queue. Matches Event Grid\'s own retry window (eventgrid.bicep eventTimeToLiveInMinutes, 1 day); the compliance_sweep timer repairs whatever expires. Expired events are dead-lettered, not dropped.')
param messageTimeToLive string = 'P1D'

// Sessions need the Standard or Premium tier (Microsoft Learn, Service Bus "Message sessions": "The basic tier of Service
// Bus doesn't support sessions. The standard and premium tiers support sessions."). Standard is pay-per-operation, which
// fits poolkeeper's bursty, low average event rate; Premium's dedicated messaging units are not needed for it.
resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  // Deliberate trade-offs (checkov 3.3 has no Bicep/ARM Service Bus checks, so they are written down here):
  //   * no double encryption and no customer-managed key: Premium-only features, and the messages are transient
  //     copies of Azure resource events, encrypted at rest with Microsoft-managed keys;
  //   * no namespace identity: the namespace calls nothing; Event Grid and the app use their own identities;
  //   * public network access: Flex Consumption without VNet integration and Event Grid's delivery reach the namespace
  //     over public endpoints; access is Entra-only (local/SAS auth disabled below).
  name: 'sb-poolkeeper-${resourceToken}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    // No SAS keys: Event Grid sends with its managed identity (Azure Service Bus Data Sender) and the trigger
    // receives with the app's (Azure Service Bus Data Receiver), both granted on the queue in servicebus-roles.bicep.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    // Event Grid sets SessionId = the event's data.subscriptionId (modules/eventgrid-queue.bicep); a session
    // receiver holds one subscription's events at a time. A queue cannot be switched to sessions after creation.
    requiresSession: true
    lockDuration: lockDuration
    maxDeliveryCount: maxDeliveryCount
    defaultMessageTimeToLive: messageTimeToLive
    deadLetteringOnMessageExpiration: true
    // Events repeat anyway (Event Grid is at-least-once) and poolkeeper reads Azure as it is, so a duplicate costs a
    // no-op run; duplicate detection would add nothing.
    requiresDuplicateDetection: false
    // Partitioning spreads one queue over brokers; sessions keep their order per session either way, and a
    // Standard queue cannot change this after creation. Kept off, the simpler default.
    enablePartitioning: false
    maxSizeInMegabytes: 1024
  }
}

output namespaceName string = namespace.name
output queueName string = queue.name
output queueId string = queue.id
// <namespace>.servicebus.windows.net (or the sovereign cloud's suffix): serviceBusEndpoint is
// https://<namespace>.servicebus.windows.net:443/, and the trigger's identity-based connection wants the host only
// (<CONNECTION>__fullyQualifiedNamespace; Microsoft Learn, Azure Service Bus bindings for Azure Functions, "Identity-based
// connections").
output fullyQualifiedNamespace string = split(split(split(namespace.properties.serviceBusEndpoint, '//')[1], '/')[0], ':')[0]
