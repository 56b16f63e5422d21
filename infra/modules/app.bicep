// poolkeeper's own resource group: identities, storage, monitoring, the Flex Consumption function app and the
// Event Grid system topic for the subscription. Everything poolkeeper *manages* (VMs, scale sets, load balancers)
// lives in other resource groups; the custom role that lets it touch them is assigned from main.bicep.
//
// Raw resources rather than Azure Verified Modules (which the Microsoft quickstarts use) so that the whole template
// is checkable offline: pycep and checkov cannot fetch `br/public:` registry modules in CI.
targetScope = 'resourceGroup'

@description('Region for everything except the Event Grid system topic (which is always "global").')
param location string

@description('Tags put on every resource; azd needs azd-env-name.')
param tags object

@description('Short unique suffix shared by the resource names.')
param resourceToken string

@description('Function app name; the azd service tag points `azd deploy` at it.')
param functionAppName string

@description('Python version of the Flex Consumption runtime.')
@allowed([
  '3.10'
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Upper bound on Flex Consumption instances. A low bound limits concurrent ARM writes to the same load balancers and spends less of the subscription\'s ARM throttling budget.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 10

@description('Memory size of each instance (MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('poolkeeper configuration (scopes, bindings); serialised into POOLKEEPER_CONFIG.')
param poolkeeperConfig object

@description('Base URL of Azure Resource Manager; only changes for sovereign clouds.')
param armEndpoint string = 'https://management.azure.com'

@description('Name of the Event Grid system topic for the subscription. Only one such topic may exist per subscription.')
param systemTopicName string

@description('Service Bus delivery (main.bicep eventsDelivery = \'serviceBus\'; docs/scaling.md): the session-enabled queue Event Grid delivers events to. Empty (default, direct delivery): no Service Bus app setting is set and the queue trigger is not registered.')
param eventsQueueName string = ''

@description('Fully qualified namespace of that queue (<name>.servicebus.windows.net; servicebus.bicep output). The app identity gets Azure Service Bus Data Receiver on the queue in servicebus-roles.bicep.')
param serviceBusNamespace string = ''

@description('Optional object id of the deploying user, granted blob access to the operations container so `python -m poolkeeper` can run locally against the same state. Empty: nothing granted.')
param principalId string = ''

// Built-in role definition ids (the same in every tenant).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0b4bc3fe'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
// Workflow backups and progress records (POOLKEEPER_OPERATIONS_CONTAINER). Same account as the host storage: one
// identity, one account, no keys; the container is the unit of access for the deploying user.
var operationsContainerName = 'operations'
// Events Event Grid gave up on (retry policy exhausted or endpoint rejected them), for inspection and replay.
var deadLetterContainerName = 'eventgrid-deadletter'

// Service Bus delivery only (eventsQueueName set): handlers/queue.py's trigger reads the queue named by
// POOLKEEPER_EVENTS_QUEUE (function_app registers it only when that setting is not empty) through the identity-based
// connection prefix POOLKEEPER_SERVICEBUS (poolkeeper/settings.py EVENTS_QUEUE_VAR, SERVICEBUS_CONNECTION;
// tests/infra/test_app_settings.py keeps the names equal). Identity-based connection: <prefix>__fullyQualifiedNamespace,
// and for a user-assigned identity __credential = managedidentity and __clientId (Microsoft Learn, "Azure Service Bus
// bindings for Azure Functions", identity-based connections; "Common properties for identity-based connections").
// In direct mode none of these settings exists.
var serviceBusAppSettings = empty(eventsQueueName) ? [] : [
  {
    name: 'POOLKEEPER_EVENTS_QUEUE'
    value: eventsQueueName
  }
  {
    name: 'POOLKEEPER_SERVICEBUS__fullyQualifiedNamespace'
    value: serviceBusNamespace
  }
  {
    name: 'POOLKEEPER_SERVICEBUS__credential'
    value: 'managedidentity'
  }
  {
    name: 'POOLKEEPER_SERVICEBUS__clientId'
    value: appIdentity.properties.clientId
  }
]

// ---------------------------------------------------------------------------------------------------------------
// Identities
// ---------------------------------------------------------------------------------------------------------------

// The function's one identity: host storage, deployment package, App Insights, and (via the custom role assigned in
// main.bicep) the managed resource groups. User-assigned so role assignments can exist before the app does and so
// AZURE_CLIENT_ID is known at deploy time.
resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-poolkeeper-${resourceToken}'
  location: location
  tags: tags
}

// Event Grid's own identity: writes dead-lettered events and, with Service Bus delivery, sends events to the queue
// (Azure Service Bus Data Sender on that queue, modules/servicebus-roles.bicep). Kept separate from the app identity so
// the system topic never holds the load-balancer permissions.
resource eventGridIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-poolkeeper-eventgrid-${resourceToken}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------------------------
// Storage: host storage (AzureWebJobsStorage), deployment package, operations state, dead letters
// ---------------------------------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // Checkov skips, each a deliberate trade-off of this default (no VNet) deployment:
  //checkov:skip=CKV_AZURE_35:Flex Consumption without VNet integration reaches storage over public endpoints. Access is Entra-only (shared keys and anonymous access off); a network lockdown needs VNet integration plus private endpoints, which this template does not create.
  //checkov:skip=CKV_AZURE_59:Same as CKV_AZURE_35: public network access is required without VNet integration; anonymous and key-based access are both disabled.
  //checkov:skip=CKV_AZURE_206:LRS on purpose: the account holds a redeployable package, host leases and short-lived operation records, and a regional outage stops the app that uses them anyway.
  //checkov:skip=CKV_AZURE_43:False positive: checkov cannot evaluate the interpolated name. 'stpk' + uniqueString() (13 lowercase alphanumerics) is 17 characters of [a-z0-9], within the 3-24 rule.
  name: 'stpk${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    // No account keys: the app, Event Grid and people all authenticate with Entra ID.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    dnsEndpointType: 'Standard'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // Operation records are the backup of a load balancer's wiring before a workflow changes it; a week of soft
    // delete covers an accidental cleanup.
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource operationsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: operationsContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-poolkeeper-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-poolkeeper-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Telemetry is accepted only with an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING below), so the
    // instrumentation key in the connection string is not a credential.
    DisableLocalAuth: true
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Flex Consumption plan and function app
// ---------------------------------------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-poolkeeper-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  //checkov:skip=CKV_AZURE_225:Zone redundancy for Flex Consumption is region-dependent and a cost choice left to the operator; the app holds no state of its own, and an event missed during a zone outage is repaired by the compliance_sweep timer.
  properties: {
    // Linux
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // Checkov skips, each a deliberate trade-off:
  //checkov:skip=CKV_AZURE_17:Client certificates are not used: HTTP callers authenticate with function keys over TLS 1.2, and Event Grid cannot present one.
  //checkov:skip=CKV_AZURE_222:Public network access is needed: Event Grid delivers on_resource_event and operators call /api/* over the internet; this deployment has no VNet or private endpoint.
  //checkov:skip=CKV_AZURE_213:No App Service health check: its pings would keep the serverless app from scaling to zero (cost) and its instance eviction is not how Flex Consumption recovers. /api/health is there for external probes.
  //checkov:skip=CKV_AZURE_212:Flex Consumption has no minimum instance count for failover; instances are created on demand, and compliance_sweep repairs anything missed during an outage.
  name: functionAppName
  location: location
  // azd deploys the `api` service from azure.yaml to the site that carries this tag.
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${appIdentity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: appIdentity.id
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: appIdentity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
      // Flex Consumption takes the runtime from functionAppConfig; FUNCTIONS_WORKER_RUNTIME and
      // FUNCTIONS_EXTENSION_VERSION must NOT be set here (the platform rejects them).
      appSettings: concat([
        // Host storage through the user-assigned identity, no connection string.
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: appIdentity.properties.clientId
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${appIdentity.properties.clientId};Authorization=AAD'
        }
        // azure-identity's DefaultAzureCredential/ManagedIdentityCredential picks the user-assigned identity by this.
        {
          name: 'AZURE_CLIENT_ID'
          value: appIdentity.properties.clientId
        }
        // What poolkeeper manages and how (scopes = the managed resource groups, bindings = LB wiring rules).
        {
          name: 'POOLKEEPER_CONFIG'
          value: string(poolkeeperConfig)
        }
        {
          name: 'POOLKEEPER_ARM_ENDPOINT'
          value: armEndpoint
        }
        // Timer schedules (NCRONTAB, six fields), read by the timer bindings as %POOLKEEPER_SWEEP_SCHEDULE% etc.
        {
          name: 'POOLKEEPER_SWEEP_SCHEDULE'
          value: '0 */15 * * * *'
        }
        {
          name: 'POOLKEEPER_RESUME_SCHEDULE'
          value: '0 */5 * * * *'
        }
        // Workflow backups and progress (used by resume_operations and /api/operations/{id}).
        {
          name: 'POOLKEEPER_OPERATIONS_CONTAINER'
          value: '${storage.properties.primaryEndpoints.blob}${operationsContainerName}'
        }
      ], serviceBusAppSettings)
    }
  }
  dependsOn: [
    // The host must be able to read its package and take blob leases on first start.
    appStorageRole
    deploymentContainer
  ]
}

// ---------------------------------------------------------------------------------------------------------------
// Role assignments inside poolkeeper's own resource group
// ---------------------------------------------------------------------------------------------------------------

// Storage Blob Data Owner on the account: what the Functions host documents for identity-based AzureWebJobsStorage
// (it creates its own azure-webjobs-* containers and manages blob leases); it also covers the deployment package
// and the operations container.
resource appStorageRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appIdentity.id, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher: App Insights has local auth disabled, so telemetry needs this role.
resource appInsightsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appIdentity.id, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: appIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Event Grid's identity may write blobs to the dead-letter container only.
resource deadLetterRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, eventGridIdentity.id, storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: eventGridIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Optional: the deploying user can read/write operation records when running poolkeeper locally.
resource userOperationsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(operationsContainer.id, principalId, storageBlobDataContributor)
  scope: operationsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: principalId
    principalType: 'User'
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Event Grid system topic for the whole subscription (resource write/delete events). The event *subscription* that
// points it at on_resource_event is deployed after the code by infra/hooks/postdeploy.sh (infra/eventgrid.bicep),
// because an AzureFunction destination is validated against the function, which exists only once code is deployed.
// ---------------------------------------------------------------------------------------------------------------

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventGridIdentity.id}': {}
    }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

output functionAppName string = functionApp.name
output functionAppId string = functionApp.id
output functionAppHostName string = functionApp.properties.defaultHostName
output appIdentityId string = appIdentity.id
output appIdentityClientId string = appIdentity.properties.clientId
output appIdentityPrincipalId string = appIdentity.properties.principalId
output eventGridIdentityId string = eventGridIdentity.id
output eventGridIdentityPrincipalId string = eventGridIdentity.properties.principalId
output storageAccountName string = storage.name
output storageAccountId string = storage.id
output operationsContainerUrl string = '${storage.properties.primaryEndpoints.blob}${operationsContainerName}'
output deadLetterContainerName string = deadLetterContainerName
output systemTopicName string = systemTopic.name
output applicationInsightsConnectionString string = appInsights.properties.ConnectionString
