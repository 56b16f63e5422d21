// Event subscription: subscription-wide resource events -> a session-enabled Service Bus queue, one session per Azure
// subscription (deployed by ../eventgrid.bicep when its serviceBusQueueId parameter is set, which the azd postdeploy
// hook does when main.bicep eventsDelivery = 'serviceBus'; docs/scaling.md).
//
// Event Grid sets each message's SessionId from the event's data.subscriptionId: a dynamic delivery attribute
// (Microsoft Learn, "Custom delivery properties" (event-grid/delivery-properties): dynamic header values from an event
// property, for Service Bus queue and topic destinations; Microsoft.EventGrid eventSubscriptions,
// ServiceBusQueueEventSubscriptionDestination.deliveryAttributeMappings). A session-enabled queue needs it: "If you are
// using session enabled queue/topic subscription as the destination, you need to set the session property on the event
// using Delivery Property with the header name 'SessionId'" (Microsoft Learn, "Service Bus queues and topics as event
// handlers for Azure Event Grid events"; older revisions of that page said session queues were unsupported). A session
// receiver then holds every event of one Azure subscription at a time, so one worker spends that subscription's ARM
// write budget and coalesces its events. Same filter, retries and dead letters as the function subscription.
//
// Delivered with the system topic's user-assigned identity (deliveryWithResourceIdentity; Microsoft Learn, Event Grid
// "Event delivery with a managed identity"): the namespace disables local (SAS) authentication
// (modules/servicebus.bicep), so Entra ID is the only way in, and the identity holds Azure Service Bus Data Sender on
// the queue (modules/servicebus-roles.bicep). That a keyless (non-identity) delivery is refused by such a namespace
// is UNCONFIRMED by a public source; the identity is used either way.
targetScope = 'resourceGroup'

@description('Name of the Event Grid system topic.')
param systemTopicName string

@description('Resource id of a session-enabled Service Bus queue (requiresSession: true).')
param serviceBusQueueId string

@description('Resource id of the user-assigned identity attached to the system topic (delivery and dead letters).')
param eventGridIdentityId string

@description('Resource id of the storage account holding the dead-letter container.')
param deadLetterStorageAccountId string

@description('Dead-letter blob container.')
param deadLetterContainerName string

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes an undelivered event is retried before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

var eventFilter = loadJsonContent('../event-filter.json')

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource subscriptionToQueue 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: 'poolkeeper-on-resource-event-queue'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    deliveryWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: eventGridIdentityId
      }
      destination: {
        endpointType: 'ServiceBusQueue'
        properties: {
          resourceId: serviceBusQueueId
          deliveryAttributeMappings: [
            {
              name: 'SessionId'
              type: 'Dynamic'
              properties: {
                sourceField: 'data.subscriptionId'
              }
            }
          ]
        }
      }
    }
    filter: {
      includedEventTypes: eventFilter.includedEventTypes
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

output eventSubscriptionId string = subscriptionToQueue.id
