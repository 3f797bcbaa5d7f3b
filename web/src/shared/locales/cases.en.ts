import type { CaseMessages } from './cases.zh-CN'

const casesEn: CaseMessages = {
  title: 'Cases',
}

export default casesEn
