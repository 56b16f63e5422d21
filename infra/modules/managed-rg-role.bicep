// Assigns poolkeeper's custom role to its identity on ONE managed resource group. main.bicep loops this module over
// the managedResourceGroups parameter, so the identity can touch exactly the resource groups listed there.
targetScope = 'resourceGroup'

@description('Resource id of the custom role definition (created at subscription scope by main.bicep).')
param roleDefinitionId string

@description('Principal (object) id of the function app\'s user-assigned identity.')
param principalId string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    // Set explicitly so ARM does not look the principal up in Entra ID, which fails for a just-created identity.
    principalType: 'ServicePrincipal'
    description: 'poolkeeper: keep load balancer backend pools and NAT rules in step with VMs and scale sets'
  }
}

output assignmentId string = assignment.id
