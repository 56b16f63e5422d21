// Event subscription: subscription-wide resource events -> the `on_resource_event` function.
//
// Why a separate template, deployed by the azd postdeploy hook (infra/hooks/postdeploy.sh) and not by main.bicep:
// the destination is `endpointType: 'AzureFunction'` with the function's resource id, so no function key ever sits in
// a template, a parameter or the azd environment. Event Grid validates that destination against the function's
// trigger when the subscription is created, and `.../functions/on_resource_event` only exists after `azd deploy` has
// pushed the code. So main.bicep creates the system topic (and its dead-letter identity), and this template adds
// the subscription once the code is there. Re-running it is idempotent.
targetScope = 'resourceGroup'

@description('Name of the Event Grid system topic created by main.bicep (output EVENTGRID_SYSTEM_TOPIC_NAME).')
param systemTopicName string

@description('Name of the function app (output AZURE_FUNCTION_APP_NAME).')
param functionAppName string

@description('Resource id of the user-assigned identity attached to the system topic, used to write dead letters (output EVENTGRID_IDENTITY_ID).')
param eventGridIdentityId string

@description('Resource id of the storage account holding the dead-letter container (output EVENTGRID_DEADLETTER_STORAGE_ID).')
param deadLetterStorageAccountId string

@description('Dead-letter blob container (output EVENTGRID_DEADLETTER_CONTAINER).')
param deadLetterContainerName string

@description('Name of the Event Grid trigger function in the app.')
param functionName string = 'on_resource_event'

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes an undelivered event is retried before it is dead-lettered. The compliance_sweep timer repairs anything missed after that.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

@description('Empty (default): events go straight to the function. A resource id of a session-enabled Service Bus queue (requiresSession: true): events go to that queue instead, each with SessionId = its Azure subscription id, so one worker at a time owns a subscription\'s ARM write budget (docs/scaling.md). main.bicep creates that queue, grants the Event Grid identity (eventGridIdentityId) Azure Service Bus Data Sender on it and outputs its id as EVENTGRID_SERVICEBUS_QUEUE_ID when eventsDelivery = \'serviceBus\'; the postdeploy hook passes it here.')
param serviceBusQueueId string = ''

// Event types and operation names poolkeeper handles. The same lists as poolkeeper/events.py (HANDLED_EVENT_TYPES,
// HANDLED_OPERATION_NAMES); tests/infra/test_event_filter.py fails if the JSON and the module drift apart, so the
// filter delivers exactly what on_resource_event acts on and nothing it would drop.
var eventFilter = loadJsonContent('event-filter.json')

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource subscriptionToFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (empty(serviceBusQueueId)) {
  parent: systemTopic
  name: 'poolkeeper-on-resource-event'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/${functionName}'
        // on_resource_event handles one event per invocation.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: eventFilter.includedEventTypes
      // Only the compute and NIC writes/deletes poolkeeper reacts to; everything else in the subscription (storage,
      // web, poolkeeper's own LB writes) never reaches the function.
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: eventFilter.operationNames
        }
      ]
      enableAdvancedFilteringOnArrays: false
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    // The storage account has shared keys disabled, so dead-lettering uses the system topic's user-assigned identity
    // (Storage Blob Data Contributor on this container only, granted in modules/app.bicep).
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: eventGridIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

// Optional (serviceBusQueueId set): the same events into a session-enabled Service Bus queue instead, one session
// per Azure subscription (modules/eventgrid-queue.bicep; docs/scaling.md).
module subscriptionToQueue 'modules/eventgrid-queue.bicep' = if (!empty(serviceBusQueueId)) {
  name: 'poolkeeper-eventgrid-queue'
  params: {
    systemTopicName: systemTopicName
    serviceBusQueueId: serviceBusQueueId
    eventGridIdentityId: eventGridIdentityId
    deadLetterStorageAccountId: deadLetterStorageAccountId
    deadLetterContainerName: deadLetterContainerName
    maxDeliveryAttempts: maxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}

output eventSubscriptionId string = empty(serviceBusQueueId) ? subscriptionToFunction.id : subscriptionToQueue.outputs.eventSubscriptionId
