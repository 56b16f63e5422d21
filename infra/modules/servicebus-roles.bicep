// Service Bus delivery: who may use the events queue, scoped to that queue and nothing wider (docs/scaling.md).
// Deployed by main.bicep only when eventsDelivery = 'serviceBus', after the app module (it needs both identities)
// and the servicebus module (the queue).
targetScope = 'resourceGroup'

@description('Service Bus namespace name (servicebus.bicep output namespaceName).')
param namespaceName string

@description('Session-enabled events queue (servicebus.bicep output queueName).')
param queueName string

@description('Principal id of the function app\'s identity: receives from the queue (on_queued_resource_event).')
param receiverPrincipalId string

@description('Principal id of the Event Grid system topic\'s identity: sends events to the queue.')
param senderPrincipalId string

// Built-in role definition ids, the same in every tenant (Microsoft Learn, "Azure built-in roles", Integration):
//   Azure Service Bus Data Receiver 4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0 — the role Microsoft Learn lists for a
//     Functions Service Bus *trigger* with an identity-based connection ("Azure Service Bus bindings for Azure
//     Functions", identity-based connections: Trigger = Azure Service Bus Data Receiver or Data Owner). Receiver is
//     the least privilege; without Manage rights the scale controller cannot read the queue length and scales less
//     precisely (Microsoft Learn, "Event-driven scaling in Azure Functions": use Manage rights for the most efficient
//     scaling) — acceptable here, since one session is worked by one instance at a time anyway.
//   Azure Service Bus Data Sender 69a216fc-b8fb-44d8-bc22-1f3c2cd27a39 — the role an Event Grid topic's managed
//     identity needs on a Service Bus destination (Microsoft Learn, Event Grid "Grant managed identity the access to
//     Event Grid destination": Service Bus queues and topics = Azure Service Bus Data Sender).
var serviceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: namespaceName
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: namespace
  name: queueName
}

resource appReceiverRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, receiverPrincipalId, serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
    principalId: receiverPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource eventGridSenderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, senderPrincipalId, serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    principalId: senderPrincipalId
    principalType: 'ServicePrincipal'
  }
}
