// poolkeeper: Azure Functions app that keeps Azure Load Balancer wiring (backend pools, inbound NAT rules) in step
// with VMs and VM scale sets. Entry point for `azd provision` / `azd up`.
//
// Layout follows Microsoft's Python Functions azd quickstarts (functions-quickstart-python-http-azd): a
// subscription-scope main that creates the resource group and hands the app resources to a resource-group module.
// Differences, and why:
//   * raw resources instead of `br/public:` Azure Verified Modules, so pycep and checkov can check everything offline;
//   * a custom role (infra/role-actions.json) assigned per managed resource group, never at subscription scope by
//     default, instead of a broad built-in role like Network Contributor;
//   * an Event Grid system topic for the subscription; its event subscription to `on_resource_event` is created by
//     the azd postdeploy hook (infra/hooks/postdeploy.sh -> infra/eventgrid.bicep) once the function exists;
//   * optionally (eventsDelivery = 'serviceBus') a session-enabled Service Bus queue between Event Grid and the app,
//     one session per Azure subscription (docs/scaling.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the unique resource token and names the resource group.')
param environmentName string

@minLength(1)
@description('Region for poolkeeper\'s own resources. Must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@minLength(1)
@description('Comma-separated names of the resource groups poolkeeper manages (VMs, scale sets, load balancers, NICs). The custom role is assigned on each of these and nowhere else. Set with `azd env set POOLKEEPER_MANAGED_RESOURCE_GROUPS rg-a,rg-b`.')
param managedResourceGroups string

@description('Load-balancer wiring bindings for POOLKEEPER_CONFIG (see poolkeeper\'s config documentation). Empty: poolkeeper only observes until bindings are added.')
param poolkeeperBindings array = []

@description('Azure Resource Manager endpoint poolkeeper calls (POOLKEEPER_ARM_ENDPOINT). Change only for sovereign clouds.')
param armEndpoint string = 'https://management.azure.com'

@description('Opt-in escape hatch: assign the custom role at subscription scope instead of per resource group. Leave false unless poolkeeper must follow resources into resource groups that do not exist yet.')
param assignAtSubscriptionScope bool = false

@description('Name of poolkeeper\'s resource group. Empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the deploying user (azd sets AZURE_PRINCIPAL_ID); granted blob access to the operations container for local runs. Empty: nothing granted.')
param principalId string = ''

@description('Flex Consumption maximum instance count.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 10

@description('How Event Grid delivers resource events. \'direct\' (default): to the on_resource_event function. \'serviceBus\': to a session-enabled Service Bus queue with SessionId = the event\'s Azure subscription, read by on_queued_resource_event, so one instance at a time owns a subscription\'s ARM write budget (docs/scaling.md). Set with `azd env set POOLKEEPER_EVENTS_DELIVERY serviceBus`.')
@allowed([
  'direct'
  'serviceBus'
])
param eventsDelivery string = 'direct'

// The exact RBAC actions poolkeeper's executor calls need. One file shared with tests/infra/test_role_actions.py,
// which checks it against the actions registered in poolkeeper/armcalls.py. Why each action is there: docs/deploy.md.
var roleActions = loadJsonContent('role-actions.json')

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-poolkeeper-${resourceToken}'
// Resource-group names cannot contain spaces, so stripping them makes "rg-a, rg-b" work too.
var managedResourceGroupNames = split(replace(managedResourceGroups, ' ', ''), ',')
var managedScopes = [for name in managedResourceGroupNames: '${subscription().id}/resourceGroups/${name}']
var serviceBusDelivery = eventsDelivery == 'serviceBus'
// The queue on_queued_resource_event reads (app setting POOLKEEPER_EVENTS_QUEUE in serviceBus mode).
var eventsQueueName = 'poolkeeper-events'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

// Service Bus delivery only: the namespace and session queue first (the app settings need its address), then the app,
// then the role assignments on the queue (they need the app's and Event Grid's identities).
module serviceBus 'modules/servicebus.bicep' = if (serviceBusDelivery) {
  name: 'poolkeeper-servicebus'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    queueName: eventsQueueName
  }
}

module app 'modules/app.bicep' = {
  name: 'poolkeeper-app'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    functionAppName: functionAppName
    pythonVersion: '3.11'
    maximumInstanceCount: maximumInstanceCount
    armEndpoint: armEndpoint
    principalId: principalId
    systemTopicName: 'evgt-poolkeeper-${resourceToken}'
    eventsQueueName: serviceBusDelivery ? serviceBus.outputs.queueName : ''
    serviceBusNamespace: serviceBusDelivery ? serviceBus.outputs.fullyQualifiedNamespace : ''
    poolkeeperConfig: {
      scopes: assignAtSubscriptionScope ? [
        subscription().id
      ] : managedScopes
      bindings: poolkeeperBindings
    }
  }
}

module serviceBusRoles 'modules/servicebus-roles.bicep' = if (serviceBusDelivery) {
  name: 'poolkeeper-servicebus-roles'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.namespaceName
    queueName: serviceBus.outputs.queueName
    receiverPrincipalId: app.outputs.appIdentityPrincipalId
    senderPrincipalId: app.outputs.eventGridIdentityPrincipalId
  }
}

// The custom role. A role definition is a subscription-level resource, but it can only be *assigned* within its
// assignableScopes, which are the managed resource groups unless the subscription-scope opt-in is set.
resource poolkeeperRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'poolkeeper-lb-wiring', environmentName)
  properties: {
    roleName: 'poolkeeper load balancer wiring (${environmentName}-${resourceToken})'
    description: 'Exactly the ARM actions poolkeeper uses to keep load balancer backend pools and inbound NAT rules in step with VMs and scale sets.'
    type: 'customRole'
    permissions: [
      {
        actions: roleActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: assignAtSubscriptionScope ? [
      subscription().id
    ] : managedScopes
  }
}

module managedRgRole 'modules/managed-rg-role.bicep' = [for name in managedResourceGroupNames: if (!assignAtSubscriptionScope) {
  name: 'poolkeeper-role-${uniqueString(name)}'
  scope: resourceGroup(name)
  params: {
    roleDefinitionId: poolkeeperRole.id
    principalId: app.outputs.appIdentityPrincipalId
  }
}]

resource subscriptionRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignAtSubscriptionScope) {
  name: guid(subscription().id, functionAppName, 'poolkeeper-lb-wiring')
  properties: {
    roleDefinitionId: poolkeeperRole.id
    principalId: app.outputs.appIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// azd writes these into .azure/<env>/.env; infra/hooks/postdeploy.sh reads them. No output is called AZURE_CLIENT_ID:
// azd exports outputs into hook and local shells, where that name would steer azure-identity towards the app's
// identity instead of your own `az login`.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.functionAppName
output AZURE_FUNCTION_APP_ID string = app.outputs.functionAppId
output AZURE_FUNCTION_URL string = 'https://${app.outputs.functionAppHostName}'
output POOLKEEPER_IDENTITY_CLIENT_ID string = app.outputs.appIdentityClientId
output POOLKEEPER_OPERATIONS_CONTAINER string = app.outputs.operationsContainerUrl
output POOLKEEPER_ROLE_DEFINITION_ID string = poolkeeperRole.id
output EVENTGRID_SYSTEM_TOPIC_NAME string = app.outputs.systemTopicName
output EVENTGRID_IDENTITY_ID string = app.outputs.eventGridIdentityId
output EVENTGRID_DEADLETTER_STORAGE_ID string = app.outputs.storageAccountId
output EVENTGRID_DEADLETTER_CONTAINER string = app.outputs.deadLetterContainerName
// Service Bus delivery: the queue the postdeploy hook points the Event Grid subscription at (eventgrid.bicep
// serviceBusQueueId). Empty in direct mode, where the hook subscribes the function itself.
output EVENTGRID_SERVICEBUS_QUEUE_ID string = serviceBusDelivery ? serviceBus.outputs.queueId : ''
output APPLICATIONINSIGHTS_CONNECTION_STRING string = app.outputs.applicationInsightsConnectionString
